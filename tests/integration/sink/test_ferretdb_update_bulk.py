"""FerretDB 1.24 (SQLite) and big update bulks, in bare pymongo.

Its update command runs each statement's query, and for a single-document statement
stops reading after the first match without closing the SQLite rows; every statement's
iterator is closed only when the whole command returns (``defer closer.Close()`` in the
loop of handler/msg_update.go). Each open rows keeps one of the database's 100 pooled
connections (``SetMaxOpenConns(100)``), so the 100th statement that matches an existing
document waits for a connection for ever, and so does every later operation on that
database, until it is dropped. A multi statement (UpdateMany) reads its query to the
end, which closes it: the same updates by ``_id`` go in bulks of any size. The sink sends
UpdateMany by ``_id`` (sink.store.mongo)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient, UpdateMany, UpdateOne
from pymongo.errors import NetworkTimeout

from sink.store.mongo import UPDATE_CHUNK, MongoStore
from tests.scratch import Scratch


@pytest.fixture
def client(endpoints: dict[str, str]) -> Iterator[MongoClient[dict[str, Any]]]:
    # An answer within 20 s is an answer on a loaded machine; a stalled command never
    # answers. The stalled database is dropped, which frees FerretDB's pool for it.
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        endpoints["mongodb"], socketTimeoutMS=20_000, serverSelectionTimeoutMS=5000
    )
    yield mongo
    mongo.close()


@pytest.fixture
def impatient(endpoints: dict[str, str]) -> Iterator[MongoClient[dict[str, Any]]]:
    """Gives up after 2 s: for what never answers (the test stays bounded)."""
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        endpoints["mongodb"], socketTimeoutMS=2000, serverSelectionTimeoutMS=5000
    )
    yield mongo
    mongo.close()


def _ferretdb(client: MongoClient[dict[str, Any]]) -> bool:
    return "ferretdbVersion" in client.admin.command("buildInfo")


def _bulk(client: MongoClient[dict[str, Any]], database: str, n: int, multi: bool) -> None:
    """``n`` updates by ``_id`` of existing documents in one bulk, all applied."""
    collection = client[database]["b"]
    collection.insert_many([{"_id": f"k{i}", "x": 0} for i in range(n)])
    kind = UpdateMany if multi else UpdateOne
    result = collection.bulk_write(
        [kind({"_id": f"k{i}"}, {"$inc": {"x": 1}}) for i in range(n)], ordered=False
    )
    assert result.matched_count == result.modified_count == n


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_bulk_of_100_single_updates_wedges_the_database_many_updates_do_not(
    client: MongoClient[dict[str, Any]], impatient: MongoClient[dict[str, Any]], scratch: Scratch
) -> None:
    if not _ferretdb(client):
        pytest.skip("the stall is FerretDB's; MongoDB takes any bulk")
    _bulk(client, scratch.database("it_bulk"), 99, multi=False)  # the most it takes
    wedged = scratch.database("it_bulk")
    with pytest.raises(NetworkTimeout):
        _bulk(impatient, wedged, 100, multi=False)
    with pytest.raises(NetworkTimeout):  # and the database with it, not only that command
        impatient[wedged]["b"].find_one({"_id": "k1"})
    client.drop_database(wedged)  # closes its pool: the stalled command ends
    assert client[wedged]["b"].insert_one({"_id": 1}).inserted_id == 1
    _bulk(client, scratch.database("it_bulk"), 300, multi=True)  # the same, as multi


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_store_writes_more_rollups_than_a_bulk_holds_and_again(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    """Rollup, members and status updates of 150 buckets (above FerretDB's 99), twice
    (the second time every document exists), then rebuilt: answered, counted once."""
    store = MongoStore.connect(endpoints["mongodb"], scratch.database("it_bulk"), timedelta(30))
    try:
        store.prepare()
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
        buckets = 150
        assert buckets <= UPDATE_CHUNK  # one bulk
        readings = [
            {
                "event_id": f"e{i}",
                "device_id": f"d{i % 3}",
                "sensor_id": "s",
                "sensor_kind": "OTHER",
                "unit": "1",
                "value": float(i),
                "event_time": start + timedelta(minutes=i // 3),
                "stored_time": datetime.now(UTC),
            }
            for i in range(buckets)
        ]
        assert store.write("readings", readings).inserted == buckets
        assert store.add_to_rollups(readings) == buckets
        assert store.add_to_rollups(readings) == buckets  # a replay: every bucket recomputed
        assert store.rebuild_rollups(start) == buckets
        counted = [r["count"] for r in store._db["readings_1m"].find()]
        assert sorted(counted) == [1] * buckets
    finally:
        store.close()
