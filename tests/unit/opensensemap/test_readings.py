"""openSenseMap measurements as contract readings: what each field becomes, and that the
result is a valid SensorReading of the generated model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from generated.models.sensor_reading import SensorReading
from ingest.opensensemap.measurements import Location, Measurement
from ingest.opensensemap.readings import event_id, sensor_kind, to_readings
from iotpipe.devices.boxes import Box, Sensor
from iotpipe.paths import REPO_DIR

AT = datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=UTC)


def box() -> Box:
    path = REPO_DIR / "tests/fixtures/opensensemap/box_and_sensors.json"
    data: dict[str, Any] = json.loads(path.read_text())["box_get_example_verbatim"]["json"]
    return Box.from_osem(data)


def definitions() -> dict[str, dict[str, str]]:
    path = REPO_DIR / "tests/fixtures/opensensemap/box_and_sensors.json"
    found: dict[str, dict[str, str]] = json.loads(path.read_text())["sensor_definitions"]
    return found


def test_a_temperature_measurement() -> None:
    (reading,) = to_readings(box(), [Measurement("57000b8745fd40c8196ad052", "21.34", AT)])
    model = SensorReading.model_validate(reading)
    assert model.device_id == "57000b8745fd40c8196ad04c"
    assert model.sensor_id == "57000b8745fd40c8196ad052"
    assert model.sensor_kind.value == "TEMPERATURE"
    assert model.value == 21.34
    assert model.unit == "°C"
    assert model.event_time == AT
    assert model.metadata == {
        "source": "opensensemap",
        "osem_title": "Temperatur",
        "osem_sensor_type": "HDC1008",
    }
    # No location sent: the box's current location.
    assert model.location is not None
    assert (model.location.longitude, model.location.latitude) == (7.64568, 51.962372)


@pytest.mark.parametrize("raw", [" 12.5 ", "1e3", "-0.50", "+3", "0x1A"])
def test_a_value_that_does_not_print_back_is_kept_verbatim(raw: str) -> None:
    (reading,) = to_readings(box(), [Measurement("57000b8745fd40c8196ad04e", raw, AT)])
    assert reading["value"] == (26.0 if raw == "0x1A" else float(raw))
    assert reading["metadata"]["osem_value"] == raw


@pytest.mark.parametrize("raw", ["12.5", "0", "-4", "1019.21"])
def test_a_plain_value_is_not_repeated(raw: str) -> None:
    (reading,) = to_readings(box(), [Measurement("57000b8745fd40c8196ad04e", raw, AT)])
    assert "osem_value" not in reading["metadata"]


def test_a_sent_location_wins_and_an_impossible_height_is_kept_aside() -> None:
    where = Location(lng=7.5987654, lat=51.9876543, height=1.234e19)
    (reading,) = to_readings(box(), [Measurement("57000b8745fd40c8196ad04e", "1", AT, where)])
    SensorReading.model_validate(reading)
    assert reading["location"] == {
        "latitude": 51.9876543,
        "longitude": 7.5987654,
        "elevation_m": None,
    }
    assert reading["metadata"]["osem_height"] == repr(1.234e19)


def test_event_ids_are_stable_per_box_sensor_and_time() -> None:
    first = event_id("57000b8745fd40c8196ad04c", "57000b8745fd40c8196ad052", AT)
    assert first == event_id("57000b8745fd40c8196ad04c", "57000b8745fd40c8196ad052", AT)
    later = AT.replace(microsecond=124000)
    assert first != event_id("57000b8745fd40c8196ad04c", "57000b8745fd40c8196ad052", later)
    assert first != event_id("57000b8745fd40c8196ad04c", "57000b8745fd40c8196ad051", AT)


def test_a_sensor_of_another_box_is_an_error() -> None:
    with pytest.raises(KeyError):
        to_readings(box(), [Measurement("5a1100000000000000d10001", "1", AT)])


def test_every_upstream_sensor_definition_gets_a_kind() -> None:
    kinds = {
        name: sensor_kind(Sensor("0" * 24, d["title"], d["unit"], d["sensorType"]))
        for name, d in definitions().items()
    }
    assert kinds["bme280_temperature"] == "TEMPERATURE"
    assert kinds["smt50_soiltemperature"] == "TEMPERATURE"
    assert kinds["smt50_soilmoisture"] == "SOIL_MOISTURE"
    assert kinds["sds011_pm25"] == "PM2_5"
    assert kinds["pms5003_pm01"] == "PM1"
    assert kinds["sps30_pm4"] == "PM4"
    assert kinds["scd30_co2"] == "CO2"
    assert kinds["dnms_la_max"] == "NOISE"
    assert kinds["bmp180_pressure_pa"] == "PRESSURE"
    assert kinds["windspeed"] == "WIND_SPEED"
    # UV intensity in µW/cm² is not a UV index: left as OTHER rather than mis-ranged.
    assert kinds["veml6070_uvintensity"] == "OTHER"
    others = sorted(name for name, kind in kinds.items() if kind == "OTHER")
    assert others == ["veml6070_uvintensity"]
