"""Retention without TTL on the real FerretDB: each check deletes exactly what expired,
reading about what it deletes; the sweep catches what was stored out of order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sink.store import retention
from sink.store.mongo import MongoStore
from tests.scratch import Scratch

DAYS = 30


@pytest.fixture
def store(endpoints: dict[str, str], scratch: Scratch) -> Iterator[MongoStore]:
    store = MongoStore.connect(
        endpoints["mongodb"], scratch.database("it_retention"), timedelta(days=DAYS)
    )
    if not store.prepare():
        store.close()
        pytest.skip("the server has TTL indexes: it expires documents itself")
    yield store
    store.close()


def reading(when: datetime, tag: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "device_id": "d",
        "sensor_id": "s",
        "value": 1.0,
        "event_time": when,
        "tag": tag,
    }


def spread(start: datetime, count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` readings a minute apart from ``start``, in time order."""
    return [reading(start + timedelta(minutes=i), tag) for i in range(count)]


def tags(store: MongoStore, collection: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for doc in store._db[collection].find({}, {"tag": 1}):
        found[doc["tag"]] = found.get(doc["tag"], 0) + 1
    return found


@pytest.mark.timeout(120)
def test_each_check_deletes_what_expired_and_the_sweep_what_came_out_of_order(
    store: MongoStore,
) -> None:
    now = datetime.now(UTC)
    expired = now - timedelta(days=DAYS + 5)
    store.write("readings", [reading(now + timedelta(minutes=4), "future")])  # in front
    store.write("readings", spread(expired, 2500, "expired"))  # over two pages
    store.write("readings", spread(now - timedelta(days=DAYS - 1), 3000, "kept"))
    store.write("readings", [reading(expired, "late")])  # a backfill, stored last
    store.write("device_events", spread(expired, 40, "expired"))
    store.write("device_events", spread(now - timedelta(hours=1), 10, "kept"))
    minutes = [
        {"_id": f"d|s|{i}", "minute": expired + timedelta(minutes=i), "tag": "expired"}
        for i in range(30)
    ] + [{"_id": "d|s|now", "minute": now, "tag": "kept"}]
    store._db["readings_1m"].insert_many(minutes)
    store._db["device_status"].insert_many(
        [
            {"_id": "device|gone", "last_seen": expired, "tag": "expired"},
            {"_id": "device|here", "last_seen": now, "tag": "kept"},
        ]
    )

    assert store.enforce_retention() == 2500 + 40 + 30
    assert tags(store, "readings") == {"future": 1, "kept": 3000, "late": 1}
    assert tags(store, "device_events") == {"kept": 10}
    assert tags(store, "readings_1m") == {"kept": 1}
    assert tags(store, "device_status") == {"expired": 1, "kept": 1}  # left to the sweep
    assert store.enforce_retention() == 0  # nothing more at the front

    assert store.enforce_retention(sweep=True) == 2  # the late reading, the silent device
    assert tags(store, "readings") == {"future": 1, "kept": 3000}
    assert tags(store, "device_status") == {"kept": 1}


@pytest.mark.timeout(120)
def test_a_walk_reads_about_what_it_deletes_not_what_is_stored(store: MongoStore) -> None:
    now = datetime.now(UTC)
    readings = store._db["readings"]
    readings.insert_many(spread(now - timedelta(days=DAYS + 2), 450, "expired"))
    readings.insert_many(spread(now - timedelta(days=DAYS - 1), 3000, "kept"))
    page = 100

    done = retention.walk(readings, "event_time", now - timedelta(days=DAYS), page=page)

    assert done.deleted == 450
    assert tags(store, "readings") == {"kept": 3000}
    # Each deleted document is read twice (at the front, then by _id to delete it); the
    # fifth look also read 50 kept ones, the last look those and a page more, found
    # nothing and ended the walk: 1,100 documents, where a delete by time reads 3,450.
    assert done.examined == 2 * 450 + 50 + (50 + page)
    again = retention.walk(readings, "event_time", now - timedelta(days=DAYS), page=page)
    assert again == retention.Walk(0, page)


@pytest.mark.timeout(60)
def test_a_walk_is_bounded_when_expired_and_kept_are_interleaved(store: MongoStore) -> None:
    """Stored out of time order throughout: each look keeps more, up to ``max_window``,
    where the walk ends; the next finds only kept ones in front and reads one page."""
    now = datetime.now(UTC)
    readings = store._db["readings"]
    kept, gone = now - timedelta(days=DAYS - 1), now - timedelta(days=DAYS + 1)
    readings.insert_many([reading(kept if i % 2 == 0 else gone, str(i % 2)) for i in range(100)])
    cutoff = now - timedelta(days=DAYS)

    first = retention.walk(readings, "event_time", cutoff, page=10, max_window=30)
    # looks of 10, 15, 20, 25 and 30 documents, 5 expired in each
    assert first == retention.Walk(25, (10 + 15 + 20 + 25 + 30) + 25)
    assert retention.walk(readings, "event_time", cutoff, page=10, max_window=30) == (
        retention.Walk(0, 10)
    )
    assert retention.sweep(readings, "event_time", cutoff) == 25
    assert tags(store, "readings") == {"0": 50}
