"""openSenseMap's read side, as far as ingest can answer it: pure functions, no HTTP.

ingest holds the device registry (``iotpipe.devices``, followed in memory), not the
measurements: those are in MongoDB, written by the sink, and ingest never reads them
(one dependency less on the hot path, and no second copy of the dashboards' queries).
So ``GET /boxes/:boxId`` is answered from the registry, in upstream's shape
(``boxesController.getBox``, ``Box.findBoxById`` lean with ``BOX_PROPS_FOR_POPULATION``),
with the fields the registry holds; the routes that answer measurements (latest values,
series, locations) are not served and answer as upstream's router does for a route it
does not have.
"""

from __future__ import annotations

from typing import Any, Final

from ingest.opensensemap.decoding import Query, check_id_param
from ingest.opensensemap.decoding._js import trim
from ingest.opensensemap.errors import OsemError
from iotpipe.devices.boxes import Box, BoxDirectory

__all__ = [
    "BOX_FORMATS",
    "NOT_SERVED",
    "box_json",
    "get_box",
    "method_not_allowed",
    "not_served",
    "query_choice",
]

BOX_FORMATS: Final = ("json", "geojson")
# Upstream's GET routes of one box that answer measurements; ingest does not hold them.
NOT_SERVED: Final = {
    "/boxes/{boxId}/sensors": "latest measurement of every sensor (getLatestMeasurements)",
    "/boxes/{boxId}/sensors/{sensorId}": "latest measurement of a sensor",
    "/boxes/{boxId}/data/{sensorId}": "a sensor's measurements (getData)",
    "/boxes/{boxId}/locations": "the box's location history (getBoxLocations)",
}


def query_choice(query: Query, name: str, allowed: tuple[str, ...], default: str) -> str:
    """A String parameter with allowed values, as upstream's ``retrieveParameters``: 400
    if given twice, 422 if empty after trimming, 422 if not one of ``allowed``."""
    if name not in query:
        return default
    raw = query[name]
    if isinstance(raw, list):
        raise OsemError.bad_request(f"Parameter {name} must only be specified once")
    value = trim(raw)
    if not value:
        raise OsemError.unprocessable(f"Parameter {name} is not parseable as datatype String")
    if value not in allowed:
        raise OsemError.unprocessable(
            f"Illegal value for parameter {name}. allowed values: {', '.join(allowed)}"
        )
    return value


def _location(box: Box) -> dict[str, Any] | None:
    if box.location is None:
        return None
    lng, lat, height = box.location
    return {"type": "Point", "coordinates": [lng, lat] if height is None else [lng, lat, height]}


def box_json(box: Box) -> dict[str, Any]:
    """The box as upstream's ``GET /boxes/:boxId`` shows it, with what the registry holds.

    No secrets (upstream's getBox has none either). Absent, because ingest does not hold
    them: ``createdAt``, ``updatedAt``, ``lastMeasurementAt``, ``grouptag``,
    ``description``, ``weblink``, ``image``, ``currentLocation.timestamp`` and every
    sensor's ``lastMeasurement`` (upstream leaves that out too for a sensor without
    measurements). ``loc`` is upstream's deprecated copy of the location.
    """
    out: dict[str, Any] = {
        "_id": box.id,
        "name": box.name,
        "exposure": box.exposure,
        "model": box.model,
        "sensors": [s.as_osem() for s in box.sensors],
    }
    location = _location(box)
    if location is not None:
        out["currentLocation"] = location
    out["loc"] = [{"geometry": location, "type": "Feature"} if location else {"type": "Feature"}]
    return out


def _geojson(box: Box) -> dict[str, Any]:
    """``?format=geojson``: a GeoJSON Feature (turf's ``point(coordinates, box)``), the box
    without currentLocation/loc as its properties. A box without a location (upstream has
    none such) gets a null geometry, which GeoJSON allows."""
    properties = box_json(box)
    properties.pop("currentLocation", None)
    properties.pop("loc", None)
    return {"type": "Feature", "properties": properties, "geometry": _location(box)}


def get_box(boxes: BoxDirectory, box_id: str, query: Query) -> dict[str, Any]:
    """``GET /boxes/:boxId[?format=json|geojson]``, upstream's order: 422 boxId, then the
    format parameter (400/422), then 404 "Box not found"."""
    checked = check_id_param("boxId", box_id)
    fmt = query_choice(query, "format", BOX_FORMATS, "json")
    box = boxes.get(checked)
    if box is None:
        raise OsemError.not_found("Box not found")
    return _geojson(box) if fmt == "geojson" else box_json(box)


def not_served(path: str) -> OsemError:
    """restify's answer for a route it does not have: 404 ``ResourceNotFound``."""
    return OsemError(404, "ResourceNotFound", f"{path} does not exist")


def method_not_allowed(method: str) -> OsemError:
    """restify's answer for a path whose routes take other methods: 405."""
    return OsemError(405, "MethodNotAllowed", f"{method} is not allowed")
