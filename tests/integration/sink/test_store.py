"""The MongoDB store against the real database: indexes, retention, rollups."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from sink.documents import rollups_of
from sink.store.mongo import MongoStore


@pytest.fixture
def store(endpoints: dict[str, str]) -> Iterator[MongoStore]:
    database = f"it_store_{uuid.uuid4().hex[:8]}"
    store = MongoStore.connect(endpoints["mongodb"], database, timedelta(days=30))
    yield store
    store._client.drop_database(database)
    store.close()


def reading(event_id: str, when: datetime, value: float = 1.0) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device_id": "d",
        "sensor_id": "s",
        "sensor_kind": "OTHER",
        "unit": "1",
        "value": value,
        "event_time": when,
        "stored_time": datetime.now(UTC),
    }


def test_prepare_is_idempotent_and_creates_the_indexes(store: MongoStore) -> None:
    first = store.prepare()
    assert store.prepare() == first
    indexes = store._db["readings"].index_information()
    assert indexes["event_id_unique"]["unique"] is True
    assert indexes["device_sensor_time"]["key"] == [
        ("device_id", 1),
        ("sensor_id", 1),
        ("event_time", 1),
    ]
    assert {"event_time_ttl", "event_time_1"} & set(indexes)
    if "event_time_1" in indexes:  # no TTL on this server (FerretDB): said, and deleted by hand
        assert "enforced by a periodic delete" in first[0]


def test_retention_removes_what_is_older_than_the_period(store: MongoStore) -> None:
    notes = store.prepare()
    now = datetime.now(UTC)
    result = store.write(
        "readings",
        [reading("old", now - timedelta(days=31)), reading("new", now - timedelta(days=29))],
    )
    store.add_to_rollups(result.fresh)
    deleted = store.enforce_retention()
    remaining = {d["event_id"] for d in store._db["readings"].find()}
    if notes:  # periodic delete: immediate and exact
        assert deleted == 3  # the old reading, its rollup and the rollup's members
        assert remaining == {"new"}
    else:  # TTL index: the server deletes in the background
        assert deleted == 0


def test_rollups_count_each_reading_once_across_redeliveries(store: MongoStore) -> None:
    store.prepare()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    docs = [reading(f"e{i}", minute + timedelta(seconds=i), float(i)) for i in range(10)]
    for batch in (docs[:6], docs[3:], docs):  # overlapping redeliveries
        store.add_to_rollups(store.write("readings", batch).fresh)
    [bucket] = list(store._db["readings_1m"].find())
    assert (bucket["count"], bucket["sum"], bucket["min"], bucket["max"], bucket["last"]) == (
        10,
        45.0,
        0.0,
        9.0,
        9.0,
    )


def test_readings_handed_again_after_a_crash_count_once_and_are_not_lost(
    store: MongoStore,
) -> None:
    """A replayed batch's readings are duplicates by then and handed again: counted once.
    A crash between a bucket's members and its rollup update (the rollup lost here) is
    repaired by the replay, which finds its readings among the members."""
    store.prepare()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    docs = [reading(f"e{i}", minute + timedelta(seconds=i), float(i)) for i in range(10)]
    store.write("readings", docs[:6])
    store.add_to_rollups(docs[:6])
    store._db["readings_1m"].delete_many({})  # the crash: members written, rollup not
    store.write("readings", docs)
    store.add_to_rollups(docs)  # the replay: 6 duplicates and 4 fresh
    store.add_to_rollups(docs[5:])  # and a retried flush
    [bucket] = list(store._db["readings_1m"].find())
    fields = ("count", "sum", "min", "max", "last", "last_id")
    assert tuple(bucket[f] for f in fields) == (10, 45.0, 0.0, 9.0, 9.0, "e9")


def test_a_rollup_from_before_members_were_kept_is_added_to_never_recomputed(
    store: MongoStore,
) -> None:
    """A bucket an older sink counted (5 readings, no members document): new readings
    are added to it, and a replay of them changes nothing (recomputed from its members
    it would count 2)."""
    store.prepare()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    old = [reading(f"o{i}", minute + timedelta(seconds=i), 1.0) for i in range(5)]
    [legacy] = rollups_of(old)
    store._db["readings_1m"].insert_one({"_id": legacy.key.id, **legacy.as_document()})
    docs = [reading(f"e{i}", minute + timedelta(seconds=10 + i), 2.0) for i in range(2)]
    for _ in range(2):
        store.add_to_rollups(docs)
    [bucket] = list(store._db["readings_1m"].find())
    assert (bucket["count"], bucket["sum"], bucket["last"]) == (7, 9.0, 2.0)
    members = store._db["readings_1m_members"].find_one({"_id": legacy.key.id})
    assert members is not None and members["partial"] is True


def test_a_rollups_last_is_its_latest_reading_in_whatever_order_batches_come(
    store: MongoStore,
) -> None:
    store.prepare()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    docs = [reading(f"e{i}", minute + timedelta(seconds=i), float(i)) for i in range(12)]
    seen = []
    for batch in (docs[4:8], docs[:4], docs[8:10], docs[1:3], docs[10:]):  # late ones too
        store.add_to_rollups(store.write("readings", batch).fresh)
        [bucket] = list(store._db["readings_1m"].find())
        seen.append(bucket["last"])
    assert seen == [7.0, 7.0, 9.0, 9.0, 11.0]
    assert (bucket["count"], bucket["min"], bucket["max"]) == (12, 0.0, 11.0)


def test_device_status_keeps_first_and_last_seen_and_ignores_replays(store: MongoStore) -> None:
    store.prepare()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    docs = [reading(f"e{i}", start + timedelta(minutes=i)) for i in range(5)]
    store.add_to_rollups(docs[2:])
    store.add_to_rollups(docs[:3])  # older readings arrive late
    store.add_to_rollups(docs[1:2])  # a replay
    device, sensor = sorted(store._db["device_status"].find(), key=lambda d: str(d["_id"]))
    assert (device["_id"], device["scope"], device["value"]) == ("device|d", "device", "d")
    assert (sensor["_id"], sensor["scope"], sensor["value"]) == ("sensor|d|s", "sensor", "s")
    assert sensor["last_seen"] == docs[4]["event_time"]
    status = device
    assert status["first_seen"] == docs[0]["event_time"]
    assert status["last_seen"] == docs[4]["event_time"]
    assert "device_status" in {
        name for name in store._db.list_collection_names() if name != "system.indexes"
    }
    indexes = store._db["device_status"].index_information()
    assert {"last_seen_ttl", "last_seen_1"} & set(indexes)


def test_a_document_the_server_refuses_is_reported_the_rest_stored(store: MongoStore) -> None:
    """FerretDB refuses keys containing a dot (MongoDB 5+ takes them): whichever server,
    a refusal is reported per document, never raised as an outage to retry for ever."""
    store.prepare()
    now = datetime.now(UTC)
    docs = [reading(str(uuid.uuid4()), now) for _ in range(3)]
    docs[1]["metadata"] = {"a.b": "dotted"}
    result = store.write("readings", docs)
    if result.refused:
        assert [i for i, _ in result.refused] == [1]
        assert result.inserted == 2
        assert [d["event_id"] for d in result.fresh] == [docs[0]["event_id"], docs[2]["event_id"]]
    else:  # a server that stores dotted keys
        assert result.inserted == 3
    again = store.write("readings", docs)
    assert again.inserted == 0
    assert again.duplicates == 3 - len(again.refused)
    assert store._db["readings"].count_documents({}) == result.inserted


class Writes(monitoring.CommandListener):
    """The store's database commands as the server sees them, each marked with whether it
    was sent inside a turn."""

    def __init__(self) -> None:
        self.inside = False
        self.commands: list[tuple[str, bool]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"update", "findAndModify", "insert", "delete"}:
            self.commands.append((event.command_name, self.inside))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


def test_views_write_only_inside_their_turns_a_few_updates_at_a_time(
    endpoints: dict[str, str],
) -> None:
    writes = Writes()
    database = f"it_store_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(
        endpoints["mongodb"], tz_aware=True, event_listeners=[writes]
    )
    store = MongoStore(client, database, timedelta(days=30))
    turns = 0

    @contextmanager
    def turn() -> Iterator[None]:
        nonlocal turns
        turns += 1
        writes.inside = True
        try:
            yield
        finally:
            writes.inside = False

    try:
        store.prepare()
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        docs = [
            {**reading(f"e{i}", minute + timedelta(seconds=i), float(i)), "sensor_id": f"s{i % 9}"}
            for i in range(27)
        ]
        writes.commands.clear()
        assert store.add_to_rollups(docs, turn) == 9  # buckets
        assert writes.commands
        assert all(inside for _, inside in writes.commands)
        # Two findAndModify per bucket (members, rollup); statuses (1 device + 9
        # sensors) in bulks of 4.
        assert turns == 2 * 9 + 3
        assert sum(r["count"] for r in store._db["readings_1m"].find()) == 27
    finally:
        client.drop_database(database)
        client.close()


def test_a_write_sent_in_two_halves_reports_each_document_at_its_place(
    endpoints: dict[str, str],
) -> None:
    database = f"it_store_{uuid.uuid4().hex[:8]}"
    store = MongoStore.connect(endpoints["mongodb"], database, timedelta(days=30), split_min=4)
    try:
        store.prepare()
        now = datetime.now(UTC)
        docs = [reading(str(uuid.uuid4()), now, float(i)) for i in range(8)]
        first = store.write("readings", docs[:2] + docs[5:6])  # already stored: 0, 1, 5
        assert first.inserted == 3
        docs[6]["metadata"] = {"a.b": "dotted"}  # in the second half
        result = store.write("readings", docs)
        refused = [i for i, _ in result.refused]
        assert refused in ([6], [])  # FerretDB refuses dotted keys, MongoDB takes them
        assert result.duplicates == 3
        assert [d["value"] for d in result.fresh] == [
            float(i) for i in (2, 3, 4, 6, 7) if i not in refused
        ]
        stored = {d["event_id"] for d in store._db["readings"].find()}
        assert stored == {d["event_id"] for i, d in enumerate(docs) if i not in refused}
    finally:
        store._client.drop_database(database)
        store.close()
