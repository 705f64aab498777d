"""The chaos count of stored readings reads FerretDB's SQLite file directly (30-40x
faster than FerretDB's own scan); it must find exactly what the wire protocol finds."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from iotpipe.chaos.verdict import count_stored
from iotpipe.stack.settings import StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def database(endpoints: dict[str, str]) -> Iterator[str]:
    name = f"chaos_count_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
    try:
        yield name
    finally:
        client.drop_database(name)
        client.close()


@pytest.mark.timeout(120)
def test_the_sqlite_count_matches_the_wire_protocol(
    endpoints: dict[str, str], database: str
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(300)]
    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
    try:
        readings = client[database]["readings"]
        readings.insert_many([{"event_id": i, "value": n} for n, i in enumerate(ids)])
        readings.insert_one({"event_id": ids[0], "value": -1})  # a double (no unique index)
        client[database]["device_events"].insert_one({"event_id": "not-a-reading"})
    finally:
        client.close()
    sqlite_dir = StackSettings().state_dir.expanduser() / "mongodb" / "data"
    assert (sqlite_dir / f"{database}.sqlite").is_file(), "FerretDB's file is not where expected"
    expected = Counter({**dict.fromkeys(ids, 1), ids[0]: 2})
    assert count_stored(endpoints["mongodb"], database, sqlite_dir) == expected
    assert count_stored(endpoints["mongodb"], database) == expected  # the wire protocol


def test_a_database_without_readings_counts_nothing(endpoints: dict[str, str]) -> None:
    missing = Path("/nonexistent")
    assert count_stored(endpoints["mongodb"], f"chaos_none_{uuid.uuid4().hex[:8]}", missing) == {}
