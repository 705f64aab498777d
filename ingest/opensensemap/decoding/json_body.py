"""JSON bodies (``jsonHandler``): an array of measurements or an object keyed by sensor id.

- Array: ``[{sensor | sensor_id, value, createdAt?, location?}, ...]``, taken as is.
- Object: ``{sensorId: value | [value] | [value, createdAt] | [value, createdAt,
  location]}``, keys in JS order (array-index-like keys first); any other array length is
  422 "Array for sensorID '<id>' has an illegal length", raised before any validation.

An exactly empty body, or a falsy document (``0``, ``false``, ``null``, ``""``), is 422
"Cannot decode empty message (json decoder)"; any other scalar decodes to nothing (422
"Cannot save empty or invalid measurements."). Unparseable JSON is restify's 400
``InvalidContent`` "Invalid JSON: ..." (upstream's body parser answers before the route;
the detail after the colon is Python's, not V8's).
"""

from __future__ import annotations

from typing import Any

from ingest.opensensemap.decoding._js import js_keys, loads, printable, truthy
from ingest.opensensemap.errors import OsemError

__all__ = ["decode_json", "parse_json_body"]


def parse_json_body(body: bytes, decoder: str) -> Any:
    """The document; 422 "Cannot decode empty message (<decoder> decoder)" when empty/falsy."""
    if not body:
        raise OsemError.unprocessable(f"Cannot decode empty message ({decoder} decoder)")
    try:
        doc = loads(body.decode("utf-8", "replace"))
    except ValueError as exc:
        raise OsemError.invalid_content(f"Invalid JSON: {exc}") from None
    if not truthy(doc):
        raise OsemError.unprocessable(f"Cannot decode empty message ({decoder} decoder)")
    return doc


def _from_object(doc: dict[str, Any]) -> list[object]:
    out: list[object] = []
    for key in js_keys(doc):
        value = doc[key]
        measurement: dict[str, Any] = {"sensor_id": key}
        if isinstance(value, list):
            if len(value) == 1:
                value = value[0]
            elif len(value) == 2:
                measurement["createdAt"] = value[1]
                value = value[0]
            elif len(value) == 3:
                measurement["location"] = value[2]
                measurement["createdAt"] = value[1]
                value = value[0]
            else:
                raise OsemError.unprocessable(
                    f"Array for sensorID '{printable(key)}' has an illegal length"
                )
        measurement["value"] = value
        out.append(measurement)
    return out


def decode_json(body: bytes) -> list[object]:
    """The measurements as upstream's validator receives them (not validated yet)."""
    doc = parse_json_body(body, "json")
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        return _from_object(doc)
    return []
