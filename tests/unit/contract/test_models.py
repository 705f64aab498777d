"""The committed generated models enforce the contract's rules and policies."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from generated.models import DeviceEvent, SensorReading
from iotpipe.paths import REPO_DIR

EXAMPLES = REPO_DIR / "generated" / "examples"


def reading(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "dev.iotpipe.SensorReading.json").read_text())
    data.update(changes)
    return data


def error_locations(exc: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_published_examples_are_valid() -> None:
    assert SensorReading.model_validate(reading()).device_id == "sensebox-5f2b6c9e"
    event = json.loads((EXAMPLES / "dev.iotpipe.DeviceEvent.json").read_text())
    assert DeviceEvent.model_validate(event).kind == "HEARTBEAT"


@pytest.mark.parametrize(
    ("changes", "location", "words"),
    [
        ({"location": {"latitude": 90.1, "longitude": 0}}, ("location", "latitude"), "90"),
        ({"location": {"latitude": 0, "longitude": -181}}, ("location", "longitude"), "-180"),
        ({"device_id": "bad id!"}, ("device_id",), "pattern"),
        ({"sensor_id": ""}, ("sensor_id",), "pattern"),
        ({"unit": ""}, ("unit",), "at least 1"),
        ({"value": 2e9}, ("value",), "1000000000"),
        ({"sensor_kind": "SMELL"}, ("sensor_kind",), "TEMPERATURE"),
        ({"event_time": "2026-11-28T12:00:00"}, ("event_time",), "timezone"),
        ({"event_id": "not-a-uuid"}, ("event_id",), "UUID"),
    ],
)
def test_rules_from_the_schema_are_enforced(
    changes: dict[str, Any], location: tuple[str, ...], words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SensorReading.model_validate(reading(**changes))
    assert error_locations(caught.value) == [location]
    assert words in str(caught.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        SensorReading.model_validate(reading(value=bad))


def test_unknown_fields_are_refused_not_dropped() -> None:
    with pytest.raises(ValidationError) as caught:
        SensorReading.model_validate(reading(temprature=3))
    assert error_locations(caught.value) == [("temprature",)]


def test_device_event_rules() -> None:
    base = json.loads((EXAMPLES / "dev.iotpipe.DeviceEvent.json").read_text())
    with pytest.raises(ValidationError) as caught:
        DeviceEvent.model_validate({**base, "battery_percent": 101, "rssi_dbm": 5})
    assert sorted(error_locations(caught.value)) == [("battery_percent",), ("rssi_dbm",)]
    assert DeviceEvent.model_validate({**base, "battery_percent": None}).battery_percent is None


def test_field_docs_reach_the_json_schema() -> None:
    schema = SensorReading.model_json_schema()
    assert "Unique id of this reading" in schema["properties"]["event_id"]["description"]
    assert schema["additionalProperties"] is False
