"""Pure document functions: documents of records, device status per batch."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from pydantic import BaseModel

from generated.models import DeviceEvent, SensorReading
from iotpipe.paths import REPO_DIR
from sink.documents import statuses_of, to_document
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


def test_statuses_span_each_device_and_sensor() -> None:
    batch = [doc("a", 5), doc("b", 1), doc("a", -3, 2), {**doc("a", 7), "sensor_id": "t"}]
    statuses = {s.id: s for s in statuses_of(batch)}
    assert set(statuses) == {"device|a", "device|b", "sensor|a|s", "sensor|a|t", "sensor|b|s"}
    a = statuses["device|a"]
    assert (a.first_seen, a.last_seen) == (T0 - timedelta(minutes=3), T0 + timedelta(minutes=7))
    assert a.last_stored == T0 + timedelta(minutes=62)
    a_s = statuses["sensor|a|s"]
    assert (a_s.first_seen, a_s.last_seen) == (T0 - timedelta(minutes=3), T0 + timedelta(minutes=5))
    assert (a_s.sensor_kind, a_s.unit) == ("TEMPERATURE", "Cel")
    b = statuses["device|b"]
    assert b.first_seen == b.last_seen == T0 + timedelta(minutes=1)


def test_status_update_only_widens_the_span_and_names_its_value() -> None:
    device, sensor = statuses_of([doc("a", 0)])
    assert device.as_update() == {
        "$setOnInsert": {
            "scope": "device",
            "device_id": "a",
            "value": "a",
            # Named by its id until the registry mirror says otherwise.
            "name": "a",
            "text": "a",
            "location": "",
            "registered": False,
        },
        "$min": {"first_seen": device.first_seen},
        "$max": {
            "last_seen": device.last_seen,
            "last_stored": device.last_stored,
            "latest": {
                "time": T0,
                "sensor_id": "s",
                "value": 1.0,
                "sensor_kind": "TEMPERATURE",
                "unit": "Cel",
            },
        },
    }
    assert sensor.as_update()["$setOnInsert"] == {
        "scope": "sensor",
        "device_id": "a",
        "sensor_id": "s",
        "value": "s",
    }
    assert sensor.as_update()["$set"] == {"sensor_kind": "TEMPERATURE", "unit": "Cel"}


def test_a_device_latest_is_its_latest_reading_whatever_the_batch_order() -> None:
    def at(minutes: int, sensor: str, value: float) -> dict[str, Any]:
        return {**doc("a", minutes), "sensor_id": sensor, "value": value, "event_id": sensor}

    batch = [at(4, "t", 9.0), at(5, "s", 2.0), at(5, "t", 3.0), at(1, "u", 7.0)]
    for order in (batch, batch[::-1]):
        (device,) = [s for s in statuses_of(order) if s.scope == "device"]
        assert device.latest is not None
        # Same instant: the greatest sensor id, as MongoDB's $max orders the documents.
        assert (device.latest["time"], device.latest["sensor_id"]) == (
            T0 + timedelta(minutes=5),
            "t",
        )
        assert device.latest["value"] == 3.0
    sensors = [s for s in statuses_of(batch) if s.scope == "sensor"]
    assert all(s.latest is None for s in sensors)
    store = MemoryStore()
    store.add_to_rollups([at(5, "s", 2.0)])
    store.add_to_rollups([at(3, "s", 8.0)])  # late: kept out
    assert store.statuses["device|a"]["latest"]["value"] == 2.0


def test_memory_store_merges_late_and_replayed_batches() -> None:
    store = MemoryStore()
    store.add_to_rollups([doc("a", 10)])
    store.add_to_rollups([doc("a", 2), doc("a", 4)])
    store.add_to_rollups([doc("a", 10)])
    assert store.statuses["device|a"]["first_seen"] == T0 + timedelta(minutes=2)
    assert store.statuses["device|a"]["last_seen"] == T0 + timedelta(minutes=10)


def _dumped(record: BaseModel) -> Any:
    """What a document held before: the model's dump, UUIDs and enums as their values."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, Enum):
            return value.value
        return value

    return plain(record.model_dump(mode="python"))


@pytest.mark.parametrize("name", ["dev.iotpipe.SensorReading", "dev.iotpipe.DeviceEvent"])
def test_a_document_holds_the_record_as_its_dump_does_plus_stored_time_and_source(
    name: str,
) -> None:
    example = json.loads((REPO_DIR / "generated" / "examples" / f"{name}.json").read_text())
    model: dict[str, type[BaseModel]] = {
        "dev.iotpipe.SensorReading": SensorReading,
        "dev.iotpipe.DeviceEvent": DeviceEvent,
    }
    variants = [example, {**example, "metadata": {}}]
    if name.endswith("SensorReading"):
        variants += [
            {**example, "location": None, "quality": None, "ingest_time": T0},
            {**example, "location": {"latitude": 1.5, "longitude": -2.0, "elevation_m": 3.0}},
        ]
    for data in variants:
        record = model[name].model_validate(data)
        document = to_document(record, partition=3, offset=7, stored=T0)
        expected = {**_dumped(record), "stored_time": T0, "source": "3:7"}
        assert document == expected
        assert list(document) == list(expected)
        assert _types(document) == _types(expected)  # str, not UUID or an enum member


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    return type(value)
