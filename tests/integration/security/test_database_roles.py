"""The sink's database user writes only its own database; Grafana's only reads. Run
against a server with user management: ``IOTPIPE_SECURITY_MONGODB_ADMIN_URI`` (a user
allowed to create users, e.g. the compose file's root) or else the local stack's. The
local stack's FerretDB has no user management: the test probes and skips with the
server's own answer, never by assumption."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from sink.users import setup_users

pytestmark = [pytest.mark.timeout(120)]
UNAUTHORIZED = 13
Client = MongoClient[dict[str, Any]]


@pytest.fixture
def admin(endpoints: dict[str, str]) -> Iterator[Client]:
    uri = os.environ.get("IOTPIPE_SECURITY_MONGODB_ADMIN_URI") or endpoints["mongodb"]
    client: Client = MongoClient(uri, serverSelectionTimeoutMS=5000)
    yield client
    client.close()


def _as(admin: Client, user: str, password: str, database: str) -> Client:
    host = ",".join(f"{h}:{p}" for h, p in admin.nodes)
    uri = f"mongodb://{quote_plus(user)}:{quote_plus(password)}@{host}/?authSource={database}"
    return MongoClient(uri, serverSelectionTimeoutMS=5000)


def _probe(admin: Client, database: str) -> str | None:
    """None if this server manages users and enforces authentication; else why not."""
    user, password = f"probe_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    admin.admin.command("ping")
    host = ",".join(f"{h}:{p}" for h, p in admin.nodes)
    try:
        admin[database].command("createUser", user, pwd=password, roles=[])
    except OperationFailure as exc:
        details = exc.details or {}
        return (
            f"probe on {host}: createUser answered code {exc.code} {details.get('codeName')}: "
            f"{details.get('errmsg', exc)!r}; no user management, so roles cannot be tested here"
        )
    try:
        with _as(admin, user, "wrong-password", database) as wrong:
            wrong[database].command("ping")
            wrong[database]["x"].find_one()
        return f"{host}: createUser works but a wrong password is accepted (no auth enforced)"
    except PyMongoError:
        return None
    finally:
        admin[database].command("dropUser", user)


def test_sink_writes_only_its_database_and_grafana_only_reads(admin: Client) -> None:
    database, other = f"it_roles_{uuid.uuid4().hex[:8]}", f"it_roles_other_{uuid.uuid4().hex[:8]}"
    why = _probe(admin, database)
    if why is not None:
        pytest.skip(why)
    sink_pw, grafana_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    reports = setup_users(admin, database, sink_pw, grafana_pw)
    try:
        assert [r.outcome for r in reports] == [
            f"created (readWrite on {database})",
            f"created (read on {database})",
        ]
        admin[database]["readings"].insert_one({"seed": 1})
        with _as(admin, "iotpipe_sink", sink_pw, database) as sink:
            sink[database]["readings"].insert_one({"by": "sink"})
            assert sink[database]["readings"].count_documents({}) == 2
            for attempt in (
                lambda: sink[other]["x"].insert_one({"by": "sink"}),
                lambda: sink["admin"].command("createUser", "evil", roles=["root"], pwd=sink_pw),
            ):
                with pytest.raises(OperationFailure) as refused:
                    attempt()
                assert refused.value.code == UNAUTHORIZED
            # listDatabases shows a user without that privilege only what it may use.
            assert set(sink.list_database_names()) <= {database}
        with _as(admin, "iotpipe_grafana", grafana_pw, database) as grafana:
            assert grafana[database]["readings"].count_documents({}) == 2
            for denied in (
                lambda: grafana[database]["readings"].insert_one({"by": "grafana"}),
                lambda: grafana[database]["readings"].delete_many({}),
                lambda: grafana[database].drop_collection("readings"),
                grafana[other]["x"].find_one,
            ):
                with pytest.raises(OperationFailure) as refused:
                    denied()
                assert refused.value.code == UNAUTHORIZED
    finally:
        for user in ("iotpipe_sink", "iotpipe_grafana"):
            admin[database].command("dropUser", user)
        admin.drop_database(database)
        admin.drop_database(other)
