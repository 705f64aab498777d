"""Pure document functions: device status per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sink.documents import statuses_of
from sink.store.memory import MemoryStore

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def doc(device: str, minutes: int, stored: int = 0) -> dict[str, Any]:
    return {
        "event_id": f"{device}-{minutes}-{stored}",
        "device_id": device,
        "sensor_id": "s",
        "sensor_kind": "TEMPERATURE",
        "unit": "Cel",
        "value": 1.0,
        "event_time": T0 + timedelta(minutes=minutes),
        "stored_time": T0 + timedelta(minutes=60 + stored),
    }


def test_statuses_span_each_devices_readings() -> None:
    statuses = {s.device_id: s for s in statuses_of([doc("a", 5), doc("b", 1), doc("a", -3, 2)])}
    assert set(statuses) == {"a", "b"}
    assert statuses["a"].first_seen == T0 - timedelta(minutes=3)
    assert statuses["a"].last_seen == T0 + timedelta(minutes=5)
    assert statuses["a"].last_stored == T0 + timedelta(minutes=62)
    assert statuses["b"].first_seen == statuses["b"].last_seen == T0 + timedelta(minutes=1)


def test_status_update_only_widens_the_span() -> None:
    [status] = statuses_of([doc("a", 0)])
    assert status.as_update() == {
        "$min": {"first_seen": status.first_seen},
        "$max": {"last_seen": status.last_seen, "last_stored": status.last_stored},
    }


def test_memory_store_merges_late_and_replayed_batches() -> None:
    store = MemoryStore()
    store.add_to_rollups([doc("a", 10)])
    store.add_to_rollups([doc("a", 2), doc("a", 4)])
    store.add_to_rollups([doc("a", 10)])
    assert store.statuses["a"]["first_seen"] == T0 + timedelta(minutes=2)
    assert store.statuses["a"]["last_seen"] == T0 + timedelta(minutes=10)
