"""The MongoDB store (also FerretDB): indexes, idempotent inserts, rollups, retention.

Retention uses a TTL index where the server supports it; FerretDB does not, which is
logged once, and the same period is then enforced by ``enforce_retention`` (periodic
deletes: ``sink.store.retention``), so the promise holds on both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, MongoClient, ReturnDocument, UpdateMany
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

from sink.documents import (
    DEVICE_STATUS,
    MEMBERS,
    ROLLUPS,
    Rollup,
    RollupKey,
    Status,
    as_utc,
    buckets_of,
    from_members,
    member,
    minute_of,
    rollup,
    statuses_of,
)
from sink.store import StoreUnavailable, Turn, WriteResult, any_time, retention

__all__ = ["MongoStore"]

log = logging.getLogger("iotpipe.sink.mongo")
DUPLICATE_KEY = 11000
# Per-document write errors that say "not now" rather than "not this document": the
# server is stepping down, shutting down, busy or timed out. Any other per-document
# error (a key FerretDB cannot store, a document too large...) refuses the document.
TRANSIENT_WRITE_CODES = frozenset({6, 7, 50, 89, 91, 112, 189, 262, 10107, 11600, 11602, 13435})
# Updates go to the server in bulks of at most this many, as UpdateMany by _id. FerretDB
# 1.24 (SQLite) wedges on an update command of 100 or more single-document statements
# that match existing documents: each such statement's query (a LIMIT 1 iterator, never
# drained) keeps one of the database's 100 pooled SQLite connections until the whole
# command returns (handler/msg_update.go defers each iterator's Close in its loop), so
# the 100th statement waits for a connection for ever, and every later operation on
# that database too (until it is dropped or FerretDB restarts). A multi statement drains
# its iterator, which gives the connection back: 500 by _id took 0.49 s on an idle
# FerretDB (tests/integration/sink/test_ferretdb_update_bulk.py shows both).
UPDATE_CHUNK = 500
# ...and in bulks of this many while batch writes wait for their turn (sink.turns): on
# FerretDB each update is a transaction of its own (~1-2 ms), so a bulk of 32 would hold
# a batch write back for tens of milliseconds.
TURN_CHUNK = 4
# The time field retention applies to, per collection.
# A device silent for the whole period drops out of device_status.
_EXPIRES_BY = {
    "readings": "event_time",
    "device_events": "event_time",
    ROLLUPS: "minute",
    MEMBERS: "minute",
    DEVICE_STATUS: "last_seen",
}
# Stored in about the order of their time field, so walked from the front at each check;
# device status (its last_seen moves) only in the sweep.
_WALKED = frozenset({"readings", "device_events", ROLLUPS, MEMBERS})


class MongoStore:
    def __init__(
        self,
        client: MongoClient[dict[str, Any]],
        database: str,
        retention: timedelta,
        *,
        split_min: int = 0,
    ):
        """``split_min``: a write of at least this many documents goes to the server as
        two inserts at once, its halves (0: always one)."""
        self._client = client
        self._db: Database[dict[str, Any]] = client[database]
        self._retention = retention
        self._ttl: dict[str, bool] = {}
        self._split_min = split_min
        self._helper: ThreadPoolExecutor | None = None  # sends a split write's second half

    @classmethod
    def connect(
        cls, uri: str, database: str, retention: timedelta, *, split_min: int = 0
    ) -> MongoStore:
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=3000,
            connectTimeoutMS=3000,
            socketTimeoutMS=30000,
            retryWrites=True,
        )
        return cls(client, database, retention, split_min=split_min)

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown(wait=True)
        self._client.close()

    def prepare(self) -> list[str]:
        notes = []
        try:
            readings = self._db["readings"]
            readings.create_index([("event_id", ASCENDING)], unique=True, name="event_id_unique")
            readings.create_index(
                [("device_id", ASCENDING), ("sensor_id", ASCENDING), ("event_time", ASCENDING)],
                name="device_sensor_time",
            )
            events = self._db["device_events"]
            events.create_index([("event_id", ASCENDING)], unique=True, name="event_id_unique")
            events.create_index(
                [("device_id", ASCENDING), ("event_time", ASCENDING)], name="device_time"
            )
            rollups = self._db[ROLLUPS]
            rollups.create_index(
                [("device_id", ASCENDING), ("sensor_id", ASCENDING), ("minute", ASCENDING)],
                name="device_sensor_minute",
            )
            for name, field in _EXPIRES_BY.items():
                self._ttl[name] = self._time_index(name, field)
        except (ConnectionFailure, OperationFailure) as exc:
            raise StoreUnavailable(f"preparing the database failed: {exc}") from exc
        if not all(self._ttl.values()):
            notes.append(
                "the database has no TTL indexes (FerretDB): retention of "
                f"{self._retention.days} days is enforced by a periodic delete instead"
            )
        return notes

    def _time_index(self, name: str, field: str) -> bool:
        """A TTL index on ``field`` if the server has them, else a plain one. True if TTL."""
        seconds = int(self._retention.total_seconds())
        try:
            self._db[name].create_index(
                [(field, ASCENDING)], name=f"{field}_ttl", expireAfterSeconds=seconds
            )
            return True
        except OperationFailure as exc:
            if exc.code not in (238, 115) and "not implemented" not in str(exc).lower():
                raise
        self._db[name].create_index([(field, ASCENDING)], name=f"{field}_1")
        return False

    def write(self, collection: str, documents: Sequence[dict[str, Any]]) -> WriteResult:
        """Unordered inserts. A large write goes as two inserts at once (``split_min``):
        FerretDB reads and checks one while SQLite stores the other, where one insert
        keeps FerretDB's single writer waiting while it reads the next (draining a
        backlog in batches of 2,000, four alternating rounds: +3.5 to +12 % documents/s,
        FerretDB at 1.02-1.05 cores instead of 0.87-0.95)."""
        if not documents:
            return WriteResult(0, 0)
        batch = [dict(d) for d in documents]  # insert_many adds _id to what it is given
        half = len(batch) // 2 if self._split_min and len(batch) >= self._split_min else 0
        second: Future[dict[str, list[Any]]] | None = None
        if half:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-write-2")
            second = self._helper.submit(self._insert, collection, batch[half:], half)
        failure: PyMongoError | None = None
        try:
            details = self._insert(collection, batch[: half or len(batch)], 0)
        except PyMongoError as exc:
            failure, details = exc, {}
        if second is not None:
            try:
                more = second.result()
                for key, found in more.items():
                    details[key] = details.get(key, []) + found
            except PyMongoError as exc:
                failure = failure or exc
        if failure is not None:
            what = f"{failure.__class__.__name__}: {failure}"
            raise StoreUnavailable(f"insert failed: {what}") from failure
        return self._result(documents, details)

    def _insert(
        self, collection: str, documents: list[dict[str, Any]], start: int
    ) -> dict[str, list[Any]]:
        """One unordered insert of ``documents`` (from ``start`` in the whole write): the
        server's write errors, indexed in the whole write (none: empty)."""
        try:
            self._db[collection].insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            return {
                "writeErrors": [
                    {**e, "index": int(e["index"]) + start}
                    for e in exc.details.get("writeErrors", [])
                ],
                "writeConcernErrors": list(exc.details.get("writeConcernErrors", [])),
            }
        return {}

    @staticmethod
    def _result(documents: Sequence[dict[str, Any]], details: dict[str, list[Any]]) -> WriteResult:
        errors = details.get("writeErrors", [])
        passing = [e for e in errors if e.get("code") in TRANSIENT_WRITE_CODES]
        if passing or details.get("writeConcernErrors"):
            what = passing[0].get("errmsg") if passing else "write concern not met"
            raise StoreUnavailable(f"insert failed: {what}")
        if not errors:
            return WriteResult(len(documents), 0, tuple(documents))
        duplicates = {int(e["index"]) for e in errors if e.get("code") == DUPLICATE_KEY}
        refused = tuple(
            (int(e["index"]), str(e.get("errmsg") or e.get("code")))
            for e in sorted(errors, key=lambda e: int(e["index"]))
            if e.get("code") != DUPLICATE_KEY
        )
        failed = duplicates | {i for i, _ in refused}
        fresh = tuple(d for i, d in enumerate(documents) if i not in failed)
        return WriteResult(len(fresh), len(duplicates), fresh, refused)

    def add_to_rollups(self, readings: Sequence[dict[str, Any]], turn: Turn = any_time) -> int:
        """Per bucket, two updates by ``_id``: first its members (``$set`` of each
        reading under its event_id, returning them as they were), then the rollup.

        A reading counted twice is seen in the members: a batch replayed after a crash
        (stored, maybe counted, offsets not committed), a flush retried after a timeout,
        a duplicate of a stored reading. Then the rollup is ``$set`` to the exact
        aggregate of the members. Otherwise (nearly always) it is incremented as
        before: ``$inc`` count and sum, ``$min``, ``$max``, ``last`` set (put back by a
        second update where the bucket already held a later reading). A crash between
        the two updates leaves the members ahead: the replay finds its readings there
        and recomputes. So the rollups equal the readings whatever the sink's crashes,
        as long as the runner commits a batch's offsets only once its readings are
        written here (sink.runner).

        Every update filters on ``_id`` alone: FerretDB (SQLite) pushes only such a
        filter down to its index and scans the whole collection for any other."""
        groups = buckets_of(readings)
        if not groups:
            return 0
        try:
            restore: list[UpdateMany] = []  # rollups set whole, or their last put back
            partial: list[UpdateMany] = []  # members of rollups older than them
            for key, rows in groups.items():
                self._add_bucket(key, rows, turn, restore, partial)
            self._bulk(MEMBERS, partial, turn)
            self._bulk(ROLLUPS, restore, turn)
            self._update_statuses(statuses_of(readings), turn)
        except PyMongoError as exc:
            raise StoreUnavailable(f"rollup update failed: {exc}") from exc
        return len(groups)

    def _add_bucket(
        self,
        key: RollupKey,
        rows: list[dict[str, Any]],
        turn: Turn,
        restore: list[UpdateMany],
        partial: list[UpdateMany],
    ) -> None:
        """One bucket's members update, then its rollup's (or a whole ``$set`` of it
        appended to ``restore``).

        A rollup written by a sink before members were kept (its members document is
        created here, under a rollup that exists) is marked ``partial``: its readings
        are not all among its members, so it is never recomputed from them; a reading
        seen twice there is left out, as before."""
        aggregate = rollup(key, rows)
        if aggregate is None:
            return
        new = {r["event_id"]: member(r) for r in rows}
        with turn():
            before = self._db[MEMBERS].find_one_and_update(
                {"_id": key.id},
                {
                    "$set": {f"m.{i}": m for i, m in new.items()},
                    "$setOnInsert": {"minute": key.minute},
                },
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        known: dict[str, list[Any]] = (before or {}).get("m") or {}
        if any(i in known for i in new):
            if not (before or {}).get("partial"):
                exact = from_members(key, {**known, **new}, aggregate)
                if exact is not None:  # upsert: a crash may have left no rollup yet
                    update = {"$set": exact.as_document()}
                    restore.append(UpdateMany({"_id": key.id}, update, upsert=True))
                return
            fresh = rollup(key, [r for r in rows if r["event_id"] not in known])
            if fresh is None:
                return
            aggregate = fresh
        with turn():
            previous = self._db[ROLLUPS].find_one_and_update(
                {"_id": key.id},
                _increment(aggregate),
                upsert=True,  # no projection: FerretDB 1.24 refuses one here
                return_document=ReturnDocument.BEFORE,
            )
        if previous is None:
            return
        if before is None:
            partial.append(UpdateMany({"_id": key.id}, {"$set": {"partial": True}}))
        if not _is_latest(aggregate, previous):
            kept = {"$set": {k: previous.get(k) for k in ("last", "last_id")}}
            restore.append(UpdateMany({"_id": key.id}, kept))

    def _update_statuses(self, statuses: Sequence[Status], turn: Turn = any_time) -> None:
        updates = [UpdateMany({"_id": s.id}, s.as_update(), upsert=True) for s in statuses]
        self._bulk(DEVICE_STATUS, updates, turn)

    def _bulk(self, collection: str, updates: Sequence[UpdateMany], turn: Turn = any_time) -> None:
        """Updates by ``_id`` as ``multi`` ones (UpdateMany: the same one document), which
        FerretDB 1.24 takes in bulks of any size; see UPDATE_CHUNK."""
        chunk = UPDATE_CHUNK if turn is any_time else TURN_CHUNK
        for start in range(0, len(updates), chunk):
            with turn():
                self._db[collection].bulk_write(list(updates[start : start + chunk]), ordered=False)

    def rebuild_rollups(self, since: datetime) -> int:
        start = minute_of(since)
        try:
            cursor = self._db["readings"].find(
                {"event_time": {"$gte": start}},
                {
                    "_id": 0,
                    "event_id": 1,
                    "device_id": 1,
                    "sensor_id": 1,
                    "event_time": 1,
                    "value": 1,
                    "sensor_kind": 1,
                    "unit": 1,
                    "stored_time": 1,
                },
            )
            rows = list(cursor)
            groups = buckets_of(rows)
            aggregates = [a for key, rs in groups.items() if (a := rollup(key, rs)) is not None]
            self._db[ROLLUPS].delete_many({"minute": {"$gte": start}})
            self._db[MEMBERS].delete_many({"minute": {"$gte": start}})
            self._bulk(
                MEMBERS,
                [
                    UpdateMany(
                        {"_id": key.id},
                        {
                            "$set": {
                                "minute": key.minute,
                                "m": {r["event_id"]: member(r) for r in rs},
                            }
                        },
                        upsert=True,
                    )
                    for key, rs in groups.items()
                ],
            )
            self._bulk(
                ROLLUPS,
                [
                    UpdateMany({"_id": a.key.id}, {"$set": a.as_document()}, upsert=True)
                    for a in aggregates
                ],
            )
            self._update_statuses(statuses_of(rows))
        except PyMongoError as exc:
            raise StoreUnavailable(f"rollup rebuild failed: {exc}") from exc
        return len(aggregates)

    def enforce_retention(self, *, sweep: bool = False) -> int:
        """Where there is no TTL index: walk each collection stored in time order from its
        front (``sink.store.retention``: the cost follows what expires), and with
        ``sweep`` delete by the time field over whole collections (FerretDB scans them:
        the cost follows what is stored), which also catches documents stored out of
        order and device status."""
        cutoff = datetime.now(UTC) - self._retention
        deleted = 0
        try:
            for name, field in _EXPIRES_BY.items():
                if self._ttl.get(name, False):
                    continue
                if sweep:
                    deleted += retention.sweep(self._db[name], field, cutoff)
                elif name in _WALKED:
                    deleted += retention.walk(self._db[name], field, cutoff).deleted
        except PyMongoError as exc:
            raise StoreUnavailable(f"retention delete failed: {exc}") from exc
        return deleted


def _increment(aggregate: Rollup) -> dict[str, Any]:
    key = aggregate.key
    return {
        "$inc": {"count": aggregate.count, "sum": aggregate.sum},
        "$min": {"min": aggregate.min},
        "$max": {"max": aggregate.max, "last_time": aggregate.last_time},
        "$setOnInsert": {
            "device_id": key.device_id,
            "sensor_id": key.sensor_id,
            "series": key.series,
            "device_status_id": key.device_status_id,
            "minute": key.minute,
        },
        "$set": {
            "sensor_kind": aggregate.sensor_kind,
            "unit": aggregate.unit,
            "last": aggregate.last,
            "last_id": aggregate.last_id,
        },
    }


def _is_latest(aggregate: Rollup, stored: dict[str, Any]) -> bool:
    """Whether a batch's aggregate holds the bucket's latest reading, by event time and
    then event_id (as a recomputation orders them); clients without ``tz_aware`` read
    naive UTC times."""
    previous = stored.get("last_time")
    if not isinstance(previous, datetime):
        return True
    this = (as_utc(aggregate.last_time), aggregate.last_id)
    return this >= (as_utc(previous), str(stored.get("last_id") or ""))
