"""Upstream's measurement rules (``validators.transformAndValidateMeasurements``).

Every decoder turns its body into a list of JS-like objects (dicts in insertion order,
``UNDEFINED`` for absent fields) and hands it here, because upstream's 422 messages quote
the object as it stands when the rule fails (``JSON.stringify``: ``sensor`` moved to a
trailing ``sensor_id``, ``createdAt`` already normalised when the location fails, ...).
The order of checks, per measurement, first failure wins (all-or-nothing):

1. 1..2500 measurements ("Cannot save empty or invalid measurements." / "Too many ...");
2. ``sensor_id`` (else a truthy ``sensor``, stringified and trimmed): present, a bson 1.x
   ObjectId (24 hex, any 12-character string, or a JS number) other than
   ``00112233445566778899aabb``;
3. ``value`` present and not "", a JSON number or a string with
   ``!isNaN(parseFloat(v)) && isFinite(v)``; stored verbatim (numbers as ``String(n)``);
   other JSON types are refused (upstream lets ``[5]`` through to a mongoose CastError);
4. ``createdAt`` absent -> the receive time, else the grammar of :mod:`.timestamps` and
   at most one minute after the receive time; no past limit;
5. a truthy ``location`` -> :func:`.locations.transform_coords`.

Then upstream sorts by createdAt (stably) and checks, in that order, that each sensor id
is exactly (lower-case) one of the box's: 400 otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, Final, NamedTuple

from ingest.opensensemap.decoding._js import (
    UNDEFINED,
    is_numeric,
    number_to_string,
    printable,
    stringify,
    to_string,
    trim,
    truthy,
    utf16_len,
)
from ingest.opensensemap.decoding.locations import transform_coords
from ingest.opensensemap.decoding.timestamps import iso_millis, parse_timestamp
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Location, Measurement
from iotpipe.devices.boxes import Box

__all__ = [
    "MAX_MEASUREMENTS",
    "Checked",
    "to_measurements",
    "valid_object_id",
    "validate_measurements",
]

MAX_MEASUREMENTS: Final = 2500
FUTURE_LIMIT: Final = timedelta(minutes=1)
_RESERVED_ID: Final = "00112233445566778899aabb"
_HEX24: Final = re.compile(r"[0-9a-fA-F]{24}")
_CREATED_AT: Final = attrgetter("created_at")


@lru_cache(maxsize=4096)  # a batch repeats a box's few sensor ids
def valid_object_id(text: str) -> bool:
    """Upstream's id rule (``ObjectId.isValid(id) && id !== '00112233445566778899aabb'``).

    bson 1.x takes 24 hex characters or ANY 12-character string (its 12 bytes); such an
    id then simply matches no box or sensor (404 / 400), as upstream.
    """
    return (bool(_HEX24.fullmatch(text)) or utf16_len(text) == 12) and text != _RESERVED_ID


def _valid_sensor_id(value: object) -> bool:
    if isinstance(value, str):
        return valid_object_id(value)
    return isinstance(value, int | float) and not isinstance(value, bool)  # bson: numbers


class Checked(NamedTuple):
    """A measurement that passed every rule; ``sensor_id`` as sent (maybe not a string)."""

    sensor_id: object
    value: str
    created_at: datetime
    location: Location | None


def _value_text(value: object) -> str | None:
    """The value as upstream stores it, or None if the value rule refuses it."""
    if type(value) is str:
        return value if is_numeric(value) else None
    if type(value) is float or type(value) is int:
        return number_to_string(float(value)) if math.isfinite(value) else None
    return None  # null, booleans, objects; arrays too (upstream: a mongoose CastError)


def _check(obj: dict[str, Any], received_at: datetime, limit: datetime) -> Checked:
    get = obj.get
    sensor_id = get("sensor_id", UNDEFINED)
    if sensor_id is UNDEFINED or sensor_id == "":
        raise OsemError.unprocessable("Missing sensor id")
    if not (valid_object_id(sensor_id) if type(sensor_id) is str else _valid_sensor_id(sensor_id)):
        raise OsemError.unprocessable("Invalid sensor id")
    value = get("value", UNDEFINED)
    if value is UNDEFINED or value == "":
        raise OsemError.unprocessable("Missing value")
    text = _value_text(value)
    if text is None:
        raise OsemError.unprocessable("Invalid value")
    created = get("createdAt", UNDEFINED)
    if created is UNDEFINED:
        created_at = received_at
    else:
        parsed = created if isinstance(created, datetime) else parse_timestamp(to_string(created))
        if parsed is None:
            raise OsemError.unprocessable(f"Invalid timestamp '{printable(to_string(created))}'.")
        if parsed > limit:
            raise OsemError.unprocessable(
                f"Timestamp {iso_millis(parsed)} is too far into the future."
            )
        created_at = parsed
    raw_location = get("location", UNDEFINED)
    if raw_location is UNDEFINED or not truthy(raw_location):
        return Checked(sensor_id, text, created_at, None)
    obj["createdAt"] = created_at  # a location error quotes the normalised time
    location = transform_coords(raw_location)
    obj["location"] = location.as_list()
    return Checked(sensor_id, text, created_at, location)


def validate_measurements(items: Sequence[object], received_at: datetime) -> list[Checked]:
    """All items checked in order, sorted by createdAt; ``OsemError`` 422 at the first failure."""
    if not items:
        raise OsemError.unprocessable("Cannot save empty or invalid measurements.")
    if len(items) > MAX_MEASUREMENTS:
        raise OsemError.unprocessable(
            f"Too many measurements. Please submit at most {MAX_MEASUREMENTS} measurements at once."
        )
    limit = received_at + FUTURE_LIMIT
    out = []
    for item in items:
        # A non-object (1, null, [..]) has no properties: "Missing sensor id" (upstream
        # throws a TypeError for null; same 422 here).
        obj = item if isinstance(item, dict) else {}
        if obj.get("sensor_id", UNDEFINED) is UNDEFINED:
            sensor = obj.get("sensor", UNDEFINED)
            if truthy(sensor):
                obj["sensor_id"] = trim(to_string(sensor))
                obj["sensor"] = UNDEFINED
        try:
            out.append(_check(obj, received_at, limit))
        except OsemError as err:
            raise OsemError.unprocessable(
                f"{err.message} in measurement {stringify(item)}"
            ) from None
    out.sort(key=_CREATED_AT)  # stable, as V8's Array.prototype.sort
    return out


def to_measurements(checked: Sequence[Checked], box: Box) -> list[Measurement]:
    """Upstream's ``saveMeasurementsArray`` check: 400 for the first foreign sensor id."""
    own = {s.id for s in box.sensors}
    out = []
    for c in checked:
        if not isinstance(c.sensor_id, str) or c.sensor_id not in own:
            sensor = printable(to_string(c.sensor_id))
            raise OsemError.bad_request(
                f"Measurement for sensor with id {sensor} does not belong to box"
            )
        out.append(Measurement(c.sensor_id, c.value, c.created_at, c.location))
    return out
