"""Records to MongoDB documents, and minute rollups: pure functions, no I/O.

A document keeps the record's fields (timestamps as BSON dates, UUIDs as strings), the
time the sink stored it, and where it came from in Kafka (``source``: partition and
offset, as ``"<partition>:<offset>"``). ``event_id`` is the natural key: a unique index on
it makes every write idempotent.
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
    "LATEST",
    "MEMBERS",
    "ROLLUPS",
    "Rollup",
    "RollupKey",
    "Status",
    "buckets_of",
    "device_identity",
    "device_status_id",
    "from_members",
    "latest_of",
    "member",
    "minute_of",
    "rollup",
    "rollups_of",
    "statuses_of",
    "to_document",
    "unregistered",
]

COLLECTIONS = {"SensorReading": "readings", "DeviceEvent": "device_events"}
ROLLUPS = "readings_1m"
# One document per rollup (same _id): the bucket's readings as {event_id: [value,
# event_time]}, so a reading counted twice (a replay after a crash, a duplicate) is seen,
# and the bucket recomputed from them, not incremented again. Kept apart from the
# rollups, which dashboards read whole (FerretDB scans a collection for any query).
MEMBERS = "readings_1m_members"
# One document per device and per sensor: when it first and last reported. Dashboards and
# alerts find silent devices and the sensors of a device here (FerretDB's pipelines have no
# $max accumulator, so this cannot be computed from the readings at query time).
DEVICE_STATUS = "device_status"
# A device document's latest reading, {time, sensor_id, value, sensor_kind, unit}, kept
# with $max: BSON compares embedded documents field by field in order, so the reading
# with the latest event time wins whatever order batches come in or are replayed (at one
# instant: the greatest sensor id). FerretDB 1.24 has no $first/$last accumulator, so the
# fleet map could not find it in the rollups at query time.
LATEST = "latest"


# Values BSON holds as they are (most fields of a record).
_PLAIN = frozenset({str, float, int, bool, datetime, type(None)})


def _bson(value: Any) -> Any:
    """A model's field value as BSON can hold it: nested models and containers as dicts
    and lists, UUID -> str, Enum -> its value; the rest (str, numbers, datetimes, None)
    as it is."""
    if value.__class__ in _PLAIN:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return {k: v if v.__class__ in _PLAIN else _bson(v) for k, v in value.__dict__.items()}
    if isinstance(value, dict):
        return {k: v if v.__class__ in _PLAIN else _bson(v) for k, v in value.items()}
    return [_bson(v) for v in value] if isinstance(value, list | tuple) else value


def to_document(
    record: BaseModel, *, partition: int, offset: int, stored: datetime
) -> dict[str, Any]:
    """The record's fields (read from the validated model as they are: what
    ``model_dump`` returns for the contract's models, at a third of its cost), plus when
    and from where the sink stored it.

    ``source`` is one string: as a sub-document ``{partition, offset}`` it cost FerretDB
    ~6 % more CPU per inserted document (its SQLite form carries a type schema per
    field, nested ones too; 60,000 documents alternating in batches of 2,000: 203-217 vs
    191-192 us per document)."""
    document: dict[str, Any] = {
        k: v if v.__class__ in _PLAIN else _bson(v) for k, v in record.__dict__.items()
    }
    document["stored_time"] = stored
    document["source"] = f"{partition}:{offset}"
    return document


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class RollupKey:
    device_id: str
    sensor_id: str
    minute: datetime

    @property
    def series(self) -> str:
        """Device and sensor in one string (alert rules group and label by it)."""
        return f"{self.device_id}|{self.sensor_id}"

    @property
    def id(self) -> str:
        return f"{self.series}|{self.minute.strftime('%Y-%m-%dT%H:%MZ')}"

    @property
    def device_status_id(self) -> str:
        """The device's status document: the "value out of range" alert groups rollups by
        it, so that Grafana joins the device's name and location to its result by label
        (FerretDB has no $lookup)."""
        return device_status_id(self.device_id)


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
    last_id: str = ""  # the latest reading's event_id (breaks ties of event_time)

    def as_document(self) -> dict[str, Any]:
        return {
            "device_id": self.key.device_id,
            "sensor_id": self.key.sensor_id,
            "series": self.key.series,
            "device_status_id": self.key.device_status_id,
            "minute": self.key.minute,
            "sensor_kind": self.sensor_kind,
            "unit": self.unit,
            "count": self.count,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
            "last": self.last,
            "last_time": self.last_time,
            "last_id": self.last_id,
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
        last_id=str(rows[-1]["event_id"]),
    )


def buckets_of(readings: Iterable[dict[str, Any]]) -> dict[RollupKey, list[dict[str, Any]]]:
    """Readings per device, sensor and minute."""
    groups: dict[RollupKey, list[dict[str, Any]]] = {}
    for reading in readings:
        key = RollupKey(
            reading["device_id"], reading["sensor_id"], minute_of(reading["event_time"])
        )
        groups.setdefault(key, []).append(reading)
    return groups


def rollups_of(readings: Iterable[dict[str, Any]]) -> list[Rollup]:
    """Aggregates per device, sensor and minute of the given readings."""
    groups = buckets_of(readings)
    return [r for key, rows in groups.items() if (r := rollup(key, rows)) is not None]


def member(reading: dict[str, Any]) -> list[Any]:
    """What a bucket's members keep of a reading (under its event_id)."""
    return [float(reading["value"]), reading["event_time"]]


def from_members(key: RollupKey, members: dict[str, list[Any]], like: Rollup) -> Rollup | None:
    """The exact aggregate of a bucket's members (kind and unit as in ``like``)."""
    rows = [
        {"event_id": i, "value": v, "event_time": as_utc(t), "sensor_kind": like.sensor_kind,
         "unit": like.unit}
        for i, (v, t) in members.items()
    ]  # fmt: skip
    return rollup(key, rows)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC one: clients without ``tz_aware`` (pymongo's
    default) read naive UTC times."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Status:
    """What one batch says about a device (scope "device") or one of its sensors (scope
    "sensor"). Merged into the stored document with $min/$max, so a replayed batch changes
    nothing. ``value`` repeats the device or sensor id because Grafana query variables
    read a field of that name, and FerretDB's $project cannot rename fields."""

    scope: str
    device_id: str
    sensor_id: str | None
    first_seen: datetime
    last_seen: datetime
    last_stored: datetime
    sensor_kind: str | None = None
    unit: str | None = None
    latest: dict[str, Any] | None = None  # device scope: see LATEST

    @property
    def id(self) -> str:
        if self.sensor_id is None:
            return device_status_id(self.device_id)
        return f"sensor|{self.device_id}|{self.sensor_id}"

    def as_update(self) -> dict[str, Any]:
        if self.sensor_id is None:
            identity = device_identity(self.device_id)
        else:
            identity = {
                "scope": self.scope,
                "device_id": self.device_id,
                "sensor_id": self.sensor_id,
                "value": self.sensor_id,
            }
        latest = {LATEST: self.latest} if self.latest is not None else {}
        update: dict[str, Any] = {
            "$setOnInsert": identity,
            "$min": {"first_seen": self.first_seen},
            "$max": {"last_seen": self.last_seen, "last_stored": self.last_stored, **latest},
        }
        if self.sensor_kind is not None:
            update["$set"] = {"sensor_kind": self.sensor_kind, "unit": self.unit}
        return update


def device_identity(device_id: str) -> dict[str, Any]:
    """What a device's status document starts with: its id as its name, ``text`` (the
    device variable's label) and no location. The sink's device registry mirror
    (:mod:`sink.devices`) sets a registered device's name, label and location over these,
    and puts them back on a tombstone: FerretDB has no ``$lookup`` to join the registry
    nor ``$ifNull`` to fall back to the id at query time, so the fallback is stored."""
    return {
        "scope": "device",
        "device_id": device_id,
        "value": device_id,
        **unregistered(device_id),
    }


def device_status_id(device_id: str) -> str:
    """The ``_id`` of a device's document in ``device_status``."""
    return f"device|{device_id}"


def unregistered(device_id: str) -> dict[str, Any]:
    """The naming fields of a device the registry does not know."""
    return {"name": device_id, "text": device_id, "location": "", "registered": False}


def latest_of(reading: dict[str, Any]) -> dict[str, Any]:
    """A reading as a device's LATEST (key order matters: it is what $max compares)."""
    return {
        "time": reading["event_time"],
        "sensor_id": reading["sensor_id"],
        "value": float(reading["value"]),
        "sensor_kind": str(reading["sensor_kind"]),
        "unit": str(reading["unit"]),
    }


def _order(reading: dict[str, Any]) -> tuple[datetime, str, float]:
    return reading["event_time"], reading["sensor_id"], float(reading["value"])


def statuses_of(readings: Iterable[dict[str, Any]]) -> list[Status]:
    """Per device and per (device, sensor): earliest and latest event time, and the latest
    time the sink stored one of their readings."""
    spans: dict[tuple[str, str | None], list[Any]] = {}
    for r in readings:
        for key in ((r["device_id"], None), (r["device_id"], r["sensor_id"])):
            span = spans.get(key)
            if span is None:
                spans[key] = [r["event_time"], r["event_time"], r["stored_time"], r]
                continue
            moment = r["event_time"]
            span[0] = min(span[0], moment)
            if moment > span[1] or (moment == span[1] and _order(r) >= _order(span[3])):
                span[1], span[3] = moment, r  # ties as $max orders LATEST
            span[2] = max(span[2], r["stored_time"])
    statuses = []
    for (device, sensor), (first, last, stored, latest) in spans.items():
        if sensor is None:
            statuses.append(
                Status("device", device, None, first, last, stored, latest=latest_of(latest))
            )
        else:
            statuses.append(
                Status(
                    "sensor",
                    device,
                    sensor,
                    first,
                    last,
                    stored,
                    str(latest["sensor_kind"]),
                    str(latest["unit"]),
                )
            )
    return statuses
