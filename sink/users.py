"""Least-privilege database users: the sink reads and writes, Grafana only reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure

__all__ = ["UserReport", "setup_users"]


@dataclass(frozen=True)
class UserReport:
    user: str
    outcome: str


def _ensure(db: Any, user: str, password: str, role: str, database: str) -> UserReport:
    roles = [{"role": role, "db": database}]
    try:
        db.command("createUser", user, pwd=password, roles=roles)
    except OperationFailure as exc:
        if exc.code == 51003 or "already exists" in str(exc):
            try:
                db.command("updateUser", user, pwd=password, roles=roles)
            except OperationFailure as update:
                return UserReport(user, f"exists; could not update: {update}")
            return UserReport(user, f"updated ({role} on {database})")
        if exc.code == 59:  # CommandNotFound: e.g. FerretDB without authentication
            return UserReport(
                user,
                "not created: this server has no user management "
                "(FerretDB on SQLite); least privilege applies on MongoDB",
            )
        return UserReport(user, f"not created: {exc.details.get('errmsg') if exc.details else exc}")
    info = db.command("usersInfo", user).get("users", [{}])
    granted = info[0].get("roles") if info else None
    if not granted:
        return UserReport(
            user,
            "created, but this server does not enforce roles (FerretDB): "
            "least privilege holds only on MongoDB",
        )
    return UserReport(user, f"created ({role} on {database})")


def setup_users(
    client: MongoClient[dict[str, Any]], database: str, sink_password: str, grafana_password: str
) -> list[UserReport]:
    admin = client[database]
    return [
        _ensure(admin, "iotpipe_sink", sink_password, "readWrite", database),
        _ensure(admin, "iotpipe_grafana", grafana_password, "read", database),
    ]
