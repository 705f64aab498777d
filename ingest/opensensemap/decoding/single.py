"""``POST /boxes/:boxId/:sensorId``: one measurement as JSON (``postNewMeasurement``).

Upstream's check order, and who does what here:

1. route: boxId syntax, 422 "Parameter boxId is not parseable as datatype id"
   (:func:`check_id_param`) -- upstream checks 415 first, then the ids;
2. :func:`parse_single`: 415 "Unsupported content-type. Try application/json" unless
   JSON; 400 ``InvalidContent`` for unparseable JSON; 422 sensorId syntax; 400 "missing
   required parameter value" (400 "Parameter value must only be specified once" for an
   array); 422 "Parameter value is not parseable as datatype String" for "" (and for
   null, where upstream crashes with a 500); 422 "Illegal value for parameter createdAt.
   Invalid timestamp '...'."; 422 "Illegal value for parameter location. <rule>";
3. route: 404 "Box not found", then 401 (``useAuth`` boxes only; no hackAIR here);
4. :func:`complete_single`: the measurement rules (422 "Invalid value in measurement
   {...}", future limit), then 404 "Sensor not found: Sensor <id> of box <boxId> not
   found" (matched case-insensitively, as bson's ``ObjectId.equals``).

Parameters are looked up as upstream does: JSON body, then the query string (which wins;
a name repeated there is a list, so 400 "Parameter <name> must only be specified once").
The value is stored as ``String(value).trim()``. :func:`decode_single` is 2 + 4 for a
caller that has already done 1 and 3 (then a 400/422 of step 2 comes after 404/401).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.opensensemap.decoding._js import UNDEFINED, loads, printable, to_string, trim
from ingest.opensensemap.decoding.locations import transform_coords
from ingest.opensensemap.decoding.timestamps import parse_timestamp
from ingest.opensensemap.decoding.validators import valid_object_id, validate_measurements
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Location, Measurement
from iotpipe.devices.boxes import Box

__all__ = ["SingleRequest", "check_id_param", "complete_single", "parse_single"]

UNSUPPORTED_SINGLE = "Unsupported content-type. Try application/json"


def check_id_param(name: str, raw: str) -> str:
    """A boxId/sensorId path parameter, trimmed; 422 "Parameter <name> is not parseable
    as datatype id" unless it is an ObjectId (:func:`valid_object_id`)."""
    text = trim(raw)
    if not valid_object_id(text):
        raise OsemError.unprocessable(f"Parameter {name} is not parseable as datatype id")
    return text


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("application/json", "json") or (
        media.startswith("application/") and media.endswith("+json")
    )


@dataclass(frozen=True)
class SingleRequest:
    """The parameters of a single-measurement request, checked for syntax only."""

    sensor_id: str  # as sent (trimmed): upstream's messages quote it so
    value: str
    created_at: datetime | None
    location: Location | None


def _params(body: bytes, query: Mapping[str, str | list[str]] | None) -> dict[str, Any]:
    space: dict[str, Any] = {}
    if body:
        try:
            doc = loads(body.decode("utf-8", "replace"))
        except ValueError as exc:
            raise OsemError.invalid_content(f"Invalid JSON: {exc}") from None
        if isinstance(doc, dict):
            space.update(doc)
    if query:
        space.update(query)
    return space


def _once(name: str, value: object) -> object:
    if isinstance(value, list):
        raise OsemError.bad_request(f"Parameter {name} must only be specified once")
    return value


def parse_single(
    body: bytes,
    content_type: str | None,
    sensor_id: str,
    *,
    query: Mapping[str, str | list[str]] | None = None,
) -> SingleRequest:
    """Step 2 of the module docstring: everything that needs no box."""
    if not _is_json(content_type):
        raise OsemError(415, "UnsupportedMediaType", UNSUPPORTED_SINGLE)
    space = _params(body, query)
    sensor = check_id_param("sensorId", sensor_id)
    if "value" not in space:
        raise OsemError.bad_request("missing required parameter value")
    raw_value = _once("value", space["value"])
    value = "" if raw_value is None else trim(to_string(raw_value))
    if not value:
        raise OsemError.unprocessable("Parameter value is not parseable as datatype String")
    created_at = None
    if "createdAt" in space:
        raw_created = _once("createdAt", space["createdAt"])
        created_at = parse_timestamp(to_string(raw_created))
        if created_at is None:
            raise OsemError.unprocessable(
                "Illegal value for parameter createdAt. "
                f"Invalid timestamp '{printable(to_string(raw_created))}'."
            )
    location = None
    if "location" in space:
        try:
            location = transform_coords(space["location"])
        except OsemError as err:
            raise OsemError.unprocessable(
                f"Illegal value for parameter location. {err.message}"
            ) from None
    return SingleRequest(sensor, value, created_at, location)


def complete_single(request: SingleRequest, box: Box, *, received_at: datetime) -> Measurement:
    """Step 4: upstream's measurement rules, then the sensor must be one of the box's."""
    item: dict[str, Any] = {
        "sensor_id": request.sensor_id,
        "value": request.value,
        "createdAt": request.created_at or UNDEFINED,
        "location": request.location.as_list() if request.location else UNDEFINED,
    }
    checked = validate_measurements([item], received_at)[0]
    sensor = box.sensor(request.sensor_id)
    if sensor is None:
        raise OsemError.not_found(
            f"Sensor not found: Sensor {request.sensor_id} of box {box.id} not found"
        )
    return Measurement(sensor.id, checked.value, checked.created_at, checked.location)
