"""Readings in Avro's own form (what every language's Avro library takes and gives:
timestamps as milliseconds since the epoch, enums as symbols, optional fields None),
varied over every field of SensorReading, and the same readings in the other forms the
tests send: JSON for the ingest API, models for our own producer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from generated.models import SensorReading

__all__ = ["EPOCH", "as_model", "as_posted", "avro_reading", "moment"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Doubles whose shortest text differs from their naive one, the contract's bounds, a
# subnormal, and an exponent form; every one must come back bit for bit.
VALUES = (21.4, 0.1 + 0.2, 1 / 3, -273.15, 1.0e9, -1.0e9, 5e-324, 2.5e-7, 123456789.12345679)
TIMES = (
    1_795_867_200_123,  # 2026-11-28T12:00:00.123Z
    946_684_799_999,  # 1999-12-31T23:59:59.999Z
    -14_182_939_999,  # 1969-07-20T20:17:40.001Z: before the epoch, a negative long
    1_700_000_000_000,
)
KINDS = ("TEMPERATURE", "PM2_5", "WIND_DIRECTION", "OTHER")
QUALITIES = ("GOOD", None, "SUSPECT", "BAD", "UNKNOWN")
LOCATIONS: tuple[dict[str, Any] | None, ...] = (
    {"latitude": 51.9624, "longitude": 7.6257, "elevation_m": 60.25},
    None,
    {"latitude": -90.0, "longitude": 180.0, "elevation_m": None},
    {"latitude": 0.1, "longitude": -0.2, "elevation_m": -12.5},
)
METADATA: tuple[dict[str, str], ...] = (
    {"calibration": "2026-10", "firmware": "1.4.2"},
    {},
    {"note": "Grüße ✓ 温度", "empty": ""},
)


def avro_reading(i: int, device: str, *, ingest_time: int | None = None) -> dict[str, Any]:
    """Reading ``i`` of ``device``: each field cycles through its own list of values."""
    location = LOCATIONS[i % len(LOCATIONS)]
    return {
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "sensor_id": f"sensor-{i % 3}",
        "sensor_kind": KINDS[i % len(KINDS)],
        "value": VALUES[i % len(VALUES)],
        "unit": ("Cel", "ug/m3", "deg", "%")[i % 4],
        "event_time": TIMES[i % len(TIMES)] + i,
        "ingest_time": ingest_time,
        "location": dict(location) if location is not None else None,
        "quality": QUALITIES[i % len(QUALITIES)],
        "metadata": dict(METADATA[i % len(METADATA)]),
    }


def moment(millis: int) -> datetime:
    """A timestamp-millis value as a datetime (exact: no float division)."""
    return EPOCH + timedelta(milliseconds=millis)


def as_posted(reading: dict[str, Any]) -> dict[str, Any]:
    """The JSON a client posts to the ingest API (ingest sets ingest_time itself)."""
    posted = {k: v for k, v in reading.items() if k != "ingest_time"}
    posted["event_time"] = moment(reading["event_time"]).isoformat(timespec="milliseconds")
    return posted


def as_model(reading: dict[str, Any], **changes: Any) -> SensorReading:
    """The reading as our own producer takes it (the generated model)."""
    data = {**reading, **changes}
    data["event_time"] = moment(data["event_time"])
    if data["ingest_time"] is not None:
        data["ingest_time"] = moment(data["ingest_time"])
    return SensorReading.model_validate(data)
