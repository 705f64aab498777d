"""Records to MongoDB documents, and minute rollups: pure functions, no I/O.

A document keeps the record's fields (timestamps as BSON dates, UUIDs as strings), the
time the sink stored it, and where it came from in Kafka. ``event_id`` is the natural
key: a unique index on it makes every write idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

__all__ = [
    "COLLECTIONS",
    "DEVICE_STATUS",
    "ROLLUPS",
    "DeviceStatus",
    "Rollup",
    "RollupKey",
    "minute_of",
    "rollup",
    "rollups_of",
    "statuses_of",
    "to_document",
]

COLLECTIONS = {"SensorReading": "readings", "DeviceEvent": "device_events"}
ROLLUPS = "readings_1m"
# One document per device: when it first and last reported. Dashboards and alerts find
# silent devices here (the aggregation pipelines FerretDB runs have no $max accumulator).
DEVICE_STATUS = "device_status"


def _bson(value: Any) -> Any:
    """Python values of a model dump as BSON can hold them (UUID -> str, Enum -> value)."""
    if isinstance(value, dict):
        return {k: _bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bson(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def to_document(
    record: BaseModel, *, partition: int, offset: int, stored: datetime
) -> dict[str, Any]:
    document: dict[str, Any] = _bson(record.model_dump(mode="python"))
    document["stored_time"] = stored
    document["source"] = {"partition": partition, "offset": offset}
    return document


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class RollupKey:
    device_id: str
    sensor_id: str
    minute: datetime

    @property
    def id(self) -> str:
        return f"{self.device_id}|{self.sensor_id}|{self.minute.strftime('%Y-%m-%dT%H:%MZ')}"


@dataclass(frozen=True)
class Rollup:
    key: RollupKey
    sensor_kind: str
    unit: str
    count: int
    sum: float
    min: float
    max: float
    last: float
    last_time: datetime

    def as_document(self) -> dict[str, Any]:
        return {
            "device_id": self.key.device_id,
            "sensor_id": self.key.sensor_id,
            "minute": self.key.minute,
            "sensor_kind": self.sensor_kind,
            "unit": self.unit,
            "count": self.count,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
            "last": self.last,
            "last_time": self.last_time,
        }


def rollup(key: RollupKey, readings: Iterable[dict[str, Any]]) -> Rollup | None:
    """The aggregate of some readings of one device, sensor and minute."""
    rows = sorted(readings, key=lambda r: (r["event_time"], r["event_id"]))
    if not rows:
        return None
    values = [float(r["value"]) for r in rows]
    return Rollup(
        key=key,
        sensor_kind=str(rows[-1]["sensor_kind"]),
        unit=str(rows[-1]["unit"]),
        count=len(values),
        sum=sum(values),
        min=min(values),
        max=max(values),
        last=values[-1],
        last_time=rows[-1]["event_time"],
    )


def rollups_of(readings: Iterable[dict[str, Any]]) -> list[Rollup]:
    """Aggregates per device, sensor and minute of the given readings."""
    groups: dict[RollupKey, list[dict[str, Any]]] = {}
    for reading in readings:
        key = RollupKey(
            reading["device_id"], reading["sensor_id"], minute_of(reading["event_time"])
        )
        groups.setdefault(key, []).append(reading)
    return [r for key, rows in groups.items() if (r := rollup(key, rows)) is not None]


@dataclass(frozen=True)
class DeviceStatus:
    """What one batch says about a device; merged into the stored status with $min/$max,
    so applying the same batch twice changes nothing."""

    device_id: str
    first_seen: datetime
    last_seen: datetime
    last_stored: datetime

    def as_update(self) -> dict[str, Any]:
        return {
            "$min": {"first_seen": self.first_seen},
            "$max": {"last_seen": self.last_seen, "last_stored": self.last_stored},
        }


def statuses_of(readings: Iterable[dict[str, Any]]) -> list[DeviceStatus]:
    """Per device: earliest and latest event time, and the latest time the sink stored."""
    spans: dict[str, tuple[datetime, datetime, datetime]] = {}
    for r in readings:
        first, last, stored = spans.get(
            r["device_id"], (r["event_time"], r["event_time"], r["stored_time"])
        )
        spans[r["device_id"]] = (
            min(first, r["event_time"]),
            max(last, r["event_time"]),
            max(stored, r["stored_time"]),
        )
    return [DeviceStatus(device, *span) for device, span in spans.items()]
