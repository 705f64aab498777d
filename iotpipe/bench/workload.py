"""The readings every phase of the benchmark sends: the same shape as a senseBox fleet
(several devices, four sensors each), valid against the contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

__all__ = [
    "BATCH_PHASES",
    "DEVICES",
    "batch_body",
    "fleet_batch_body",
    "reading",
    "readings",
    "single_body",
]

DEVICES = 50
# The batch phases, ingest's and the peers' alike: readings per POST -> wrk connections.
BATCH_PHASES = ((100, 8), (1000, 4))
SENSORS = [
    ("temp", "TEMPERATURE", "Cel", 12.0),
    ("hum", "HUMIDITY", "%", 60.0),
    ("pres", "PRESSURE", "hPa", 1013.0),
    ("pm25", "PM2_5", "ug/m3", 9.0),
]


def reading(i: int, *, when: datetime | None = None, with_id: bool = True) -> dict[str, Any]:
    sensor_id, kind, unit, base = SENSORS[i % len(SENSORS)]
    moment = (when or datetime.now(UTC)) - timedelta(milliseconds=i % 1000)
    row: dict[str, Any] = {
        "device_id": f"bench-{(i // len(SENSORS)) % DEVICES:03d}",
        "sensor_id": sensor_id,
        "sensor_kind": kind,
        "unit": unit,
        "value": base + (i % 17) / 10,
        "event_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "location": {"latitude": 51.96, "longitude": 7.62},
        "metadata": {"firmware": "bench"},
    }
    if with_id:
        row["event_id"] = str(uuid.uuid4())
    return row


def readings(count: int, *, with_id: bool = True) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [reading(i, when=now, with_id=with_id) for i in range(count)]


def fleet_batch_body(size: int, *, request: int, devices: int) -> bytes:
    """Request number ``request`` of a fleet of ``devices`` devices taking turns: the
    readings (four sensors each) of the next ``size // 4`` devices in turn, timed now.
    A long run then spreads its readings over the fleet and over time, as devices do
    (a fixed body would put every reading of the run into one minute of 50 series)."""
    per = len(SENSORS)
    first = request * max(1, size // per)
    now = datetime.now(UTC)
    rows = []
    for i in range(size):
        row = reading(i, when=now, with_id=False)
        row["device_id"] = f"fleet-{(first + i // per) % devices:05d}"
        rows.append(row)
    return orjson.dumps(rows)


def single_body() -> bytes:
    """One reading without event_id: ingest assigns one per request, so a load generator
    replaying the same body sends distinct readings."""
    return orjson.dumps(reading(0, with_id=False))


def batch_body(size: int) -> bytes:
    return orjson.dumps(readings(size, with_id=False))
