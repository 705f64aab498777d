"""A box's measurements as contract readings (``dev.iotpipe.SensorReading``).

- device_id = box id, sensor_id = sensor id (both 24 hex, lower-case);
- sensor_kind from the sensor's title, unit and type (openSenseMap has no kinds; the
  titles are the senseBox sketch generator's, mostly German); unknown -> OTHER;
- unit = the sensor's unit as the owner wrote it ("°C", "µg/m³"); "1" when empty;
- value = the measurement's value as JavaScript reads it (upstream keeps the string; it is in
  ``metadata["osem_value"]`` when the number does not print back the same);
- event_time = createdAt (or the receive time), location = the measurement's, else the
  box's current location; an out-of-contract height is left out (kept in metadata);
- event_id is derived from box, sensor and time (UUID v5): a box re-sending the same
  measurement, or a backfill re-run over the same range, produces the same id, and the
  sink stores each id once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ingest.opensensemap.decoding import numeric_value
from ingest.opensensemap.measurements import Location, Measurement
from iotpipe.devices.boxes import Box, Sensor

__all__ = ["EVENT_NAMESPACE", "event_id", "sensor_kind", "to_reading", "to_readings"]

EVENT_NAMESPACE = uuid.UUID("6f0d6c1e-2f3b-5a4e-9c59-0b5e0c0a5e11")
_HEIGHT_RANGE = (-12_000.0, 100_000.0)  # the contract's GeoLocation.elevation_m rules

# (pattern on "title unit sensorType", lower-cased) -> SensorKind; first match wins.
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), k)
    for p, k in (
        (r"pm ?0?1(\.0)?\b", "PM1"),
        (r"pm ?2[.,_]?5", "PM2_5"),
        (r"pm ?4\b", "PM4"),
        (r"pm ?10\b", "PM10"),
        (r"boden ?feuchte|soil ?moisture", "SOIL_MOISTURE"),
        (r"feuchte|humidity", "HUMIDITY"),
        (r"temperatur|temperature|°c\b", "TEMPERATURE"),
        (r"druck(?!pegel)|pressure|\bhpa\b", "PRESSURE"),
        (r"beleuchtung|illuminance|\blx\b|\blux\b", "ILLUMINANCE"),
        (r"uv-?index", "UV_INDEX"),
        (r"co[2₂]", "CO2"),
        (r"\bvoc\b", "VOC"),
        (r"lautst|schall|noise|\bdb ?\(?a\)?", "NOISE"),
        (r"windrichtung|wind ?direction", "WIND_DIRECTION"),
        (r"windgeschw|wind ?speed", "WIND_SPEED"),
        (r"niederschlag|regen|precipitation|rain", "PRECIPITATION"),
        (r"spannung|voltage|\bvcc\b", "VOLTAGE"),
    )
)


def sensor_kind(sensor: Sensor) -> str:
    text = f"{sensor.title} {sensor.unit} {sensor.sensor_type}".lower()
    for pattern, kind in _KINDS:
        if pattern.search(text):
            return kind
    return "OTHER"


def event_id(box_id: str, sensor_id: str, created_at: datetime) -> str:
    millis = int(created_at.timestamp() * 1000)
    return str(uuid.uuid5(EVENT_NAMESPACE, f"osem/{box_id}/{sensor_id}/{millis}"))


def _millis_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _location(box: Box, given: Location | None, metadata: dict[str, str]) -> dict[str, Any] | None:
    if given is not None:
        lng, lat, height = given.lng, given.lat, given.height
    elif box.location is not None:
        lng, lat, height = box.location
    else:
        return None
    if height is not None and not _HEIGHT_RANGE[0] <= height <= _HEIGHT_RANGE[1]:
        metadata["osem_height"] = repr(height)
        height = None
    return {"latitude": lat, "longitude": lng, "elevation_m": height}


def to_reading(box: Box, sensor: Sensor, measurement: Measurement) -> dict[str, Any]:
    """One measurement of one of ``box``'s sensors as a raw SensorReading (to validate)."""
    number = numeric_value(measurement.value)  # JS Number(): "0x1A" is 26 upstream
    metadata = {"source": "opensensemap", "osem_title": sensor.title}
    if sensor.sensor_type:
        metadata["osem_sensor_type"] = sensor.sensor_type
    if measurement.value != repr(number) and measurement.value != str(number).removesuffix(".0"):
        metadata["osem_value"] = measurement.value
    return {
        "event_id": event_id(box.id, sensor.id, measurement.created_at),
        "device_id": box.id,
        "sensor_id": sensor.id,
        "sensor_kind": sensor_kind(sensor),
        "value": number,
        "unit": sensor.unit.strip()[:32] or "1",
        "event_time": _millis_iso(measurement.created_at),
        "location": _location(box, measurement.location, metadata),
        "metadata": metadata,
    }


def to_readings(box: Box, measurements: Iterable[Measurement]) -> list[dict[str, Any]]:
    """Readings for measurements already checked to belong to ``box`` (KeyError if not)."""
    out = []
    for m in measurements:
        sensor = box.sensor(m.sensor_id)
        if sensor is None:
            raise KeyError(m.sensor_id)
        out.append(to_reading(box, sensor, m))
    return out
