"""``iotpipe bench --retention``: one retention run on the local FerretDB at a million
stored readings, the old way (a delete by time) and the sink's (``sink.store.retention``).

A private database gets the sink's indexes (``MongoStore.prepare``) and ``stored``
readings shaped as the sink stores them, in time order, the oldest ``expired`` of them
past the retention period (bulk inserts of 10,000). Then, timed:

- **walk**: the sink's check, ``retention.walk`` on ``readings``. Documents examined:
  those it read at the front plus one per delete by ``_id`` (counted by the walk). Then
  the walk once more, a check that finds nothing expired;
- the expired readings are stored again (they go to the end of the table, which a delete
  by time does not mind);
- **delete by time**: ``delete_many({"event_time": {"$lt": cutoff}})``, what every check
  did before. Documents examined: every stored one, as FerretDB's explain says (no filter
  pushed down: SQLite ``SCAN``).

FerretDB's explain of each query shape is kept beside the figures, and of a range on
``_id``, which an ``_id`` starting with the time would need. The database is dropped at
the end.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection
from rich.console import Console
from rich.table import Table

from sink.store import retention
from sink.store.mongo import MongoStore

__all__ = ["RetentionFigures", "fill", "run_retention_bench", "table", "write"]

DAYS = 30
_FILL_BATCH = 10_000


@dataclass(frozen=True)
class RetentionFigures:
    database: str  # the private database (dropped at the end)
    stored: int
    expired: int
    fill_seconds: float
    walk_seconds: float
    walk_deleted: int
    walk_examined: int
    idle_seconds: float  # a check with nothing expired: the walk once more
    idle_examined: int
    delete_seconds: float
    delete_deleted: int
    delete_examined: int
    explain: dict[str, dict[str, Any]]

    @property
    def walk_per_deleted(self) -> float:
        return self.walk_examined / max(self.walk_deleted, 1)

    @property
    def delete_per_deleted(self) -> float:
        return self.delete_examined / max(self.delete_deleted, 1)


def _reading(i: int, when: datetime, stored: datetime) -> dict[str, Any]:
    """A reading as the sink stores it (sink.documents.to_document's fields)."""
    return {
        "event_id": str(uuid.UUID(int=i)),
        "device_id": f"bench-device-{i % 500:03d}",
        "sensor_id": f"s{i % 4}",
        "sensor_kind": "TEMPERATURE",
        "value": 20.0 + (i % 100) / 10,
        "unit": "CELSIUS",
        "quality": "GOOD",
        "event_time": when,
        "ingest_time": when,
        "location": None,
        "attributes": {},
        "stored_time": stored,
        "source": f"{i % 6}:{i}",
    }


def readings(
    start: int, end: int, *, stored: int, expired: int, now: datetime
) -> list[dict[str, Any]]:
    """Readings ``start`` to ``end`` of ``stored`` in time order: the first ``expired`` in
    the day before the cutoff, the rest spread over the period after it."""
    cutoff = now - timedelta(days=DAYS)
    span = timedelta(days=DAYS) - timedelta(hours=1)
    fresh = stored - expired
    return [
        _reading(
            i,
            cutoff - timedelta(days=1) + timedelta(days=1) * i / expired
            if i < expired
            else cutoff + timedelta(hours=1) + span * (i - expired) / fresh,
            now,
        )
        for i in range(start, end)
    ]


def fill(
    collection: Collection[dict[str, Any]], count: int, *, stored: int, expired: int, now: datetime
) -> float:
    """The first ``count`` readings, in unordered bulk inserts of ``_FILL_BATCH``; seconds
    taken (making the documents included: a few percent)."""
    started = time.perf_counter()
    for start in range(0, count, _FILL_BATCH):
        batch = readings(
            start, min(start + _FILL_BATCH, count), stored=stored, expired=expired, now=now
        )
        collection.insert_many(batch, ordered=False)
    return time.perf_counter() - started


def _explain(collection: Collection[dict[str, Any]], command: dict[str, Any]) -> dict[str, Any]:
    found = collection.database.command("explain", {"find": collection.name, **command})
    keys = ("filterPushdown", "limitPushdown", "sortPushdown")
    return {
        "plan": found.get("queryPlanner", {}).get("Plan"),
        **{k: found.get(k) for k in keys if k in found},
    }


def run_retention_bench(
    uri: str, *, stored: int, expired: int, console: Console, page: int = retention.PAGE
) -> RetentionFigures:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True, socketTimeoutMS=0)
    database = f"bench_retention_{uuid.uuid4().hex[:8]}"
    try:
        store = MongoStore(client, database, timedelta(days=DAYS))
        store.prepare()  # the sink's indexes: every insert maintains them
        collection = client[database]["readings"]
        now = datetime.now(UTC)
        cutoff = now - timedelta(days=DAYS)
        console.print(f"filling {database} with {stored:,} readings ({expired:,} expired)...")
        fill_seconds = fill(collection, stored, stored=stored, expired=expired, now=now)
        console.print(f"filled in {fill_seconds:.1f} s; walking...")
        front = collection.find_one({}, {"_id": 1})
        explain = {
            "walk: the front (find, empty filter, limit)": _explain(
                collection, {"filter": {}, "limit": page, "projection": {"event_time": 1}}
            ),
            "walk: a delete's look-up (find by _id)": _explain(
                collection, {"filter": {"_id": (front or {}).get("_id")}}
            ),
            "delete by time (find by event_time < cutoff)": _explain(
                collection, {"filter": {"event_time": {"$lt": cutoff}}}
            ),
            "an _id range (find by _id < ObjectId of the cutoff)": _explain(
                collection, {"filter": {"_id": {"$lt": ObjectId.from_datetime(cutoff)}}}
            ),
        }
        started = time.perf_counter()
        walked = retention.walk(collection, "event_time", cutoff, page=page)
        walk_seconds = time.perf_counter() - started
        started = time.perf_counter()
        idle = retention.walk(collection, "event_time", cutoff, page=page)
        idle_seconds = time.perf_counter() - started
        console.print(
            f"walk: {walked.deleted:,} deleted in {walk_seconds:.2f} s, then a check with "
            f"nothing expired: {idle_seconds:.2f} s; storing them again..."
        )
        fill(collection, expired, stored=stored, expired=expired, now=now)
        present = collection.estimated_document_count()
        console.print(f"deleting by time over {present:,} readings...")
        started = time.perf_counter()
        deleted = collection.delete_many({"event_time": {"$lt": cutoff}}).deleted_count
        delete_seconds = time.perf_counter() - started
        return RetentionFigures(
            database=database,
            stored=stored,
            expired=expired,
            fill_seconds=fill_seconds,
            walk_seconds=walk_seconds,
            walk_deleted=walked.deleted,
            walk_examined=walked.examined,
            idle_seconds=idle_seconds,
            idle_examined=idle.examined,
            delete_seconds=delete_seconds,
            delete_deleted=deleted,
            delete_examined=present,
            explain=explain,
        )
    finally:
        client.drop_database(database)
        client.close()


def table(figures: RetentionFigures) -> Table:
    out = Table(
        title=f"One retention run at {figures.stored:,} stored readings, "
        f"{figures.expired:,} expired (FerretDB on SQLite)"
    )
    for name in ("run", "seconds", "deleted", "examined", "examined per deleted"):
        out.add_column(name, justify="left" if name == "run" else "right")
    rows = (
        ("before: delete by time", figures.delete_seconds, figures.delete_deleted,
         figures.delete_examined, figures.delete_per_deleted),
        ("after: walk from the front", figures.walk_seconds, figures.walk_deleted,
         figures.walk_examined, figures.walk_per_deleted),
    )  # fmt: skip
    for name, seconds, deleted, examined, ratio in rows:
        out.add_row(name, f"{seconds:.2f}", f"{deleted:,}", f"{examined:,}", f"{ratio:.1f}")
    out.add_row(
        "after, nothing expired: walk again",
        f"{figures.idle_seconds:.2f}",
        "0",
        f"{figures.idle_examined:,}",
        "",
    )
    out.caption = f"filling took {figures.fill_seconds:.0f} s (bulk inserts of {_FILL_BATCH:,})"
    return out


def write(figures: RetentionFigures, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "retention.json"
    data = {
        **asdict(figures),
        "walk_per_deleted": figures.walk_per_deleted,
        "delete_per_deleted": figures.delete_per_deleted,
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path
