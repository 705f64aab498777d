"""Upstream's location rule (``validators.transformAndValidateCoords``).

``[lng, lat, height?]`` (more elements ignored) or ``{lng, lat, height?}``; numeric
strings count as numbers. ``|lng| <= 180``, ``|lat| <= 90``. Stored rounded as upstream
does it (``Math.round(x * 10e6) / 10e6``: 7 decimals; height ``10e3``: 4 decimals); a
height that is not numeric is dropped. The messages are upstream's, including its
``${coords}`` quoting of an out-of-bounds object as ``[object Object]``.
"""

from __future__ import annotations

from ingest.opensensemap.decoding._js import (
    UNDEFINED,
    is_numeric,
    math_round,
    stringify,
    to_number,
    to_string,
)
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Location

__all__ = ["transform_coords"]


def transform_coords(coords: object) -> Location:
    """The location to store; ``OsemError`` 422 with upstream's message otherwise."""
    if isinstance(coords, list):
        lng, lat, height = (coords + [UNDEFINED] * 3)[:3]
    elif isinstance(coords, dict):
        lng = coords.get("lng", UNDEFINED)
        lat = coords.get("lat", UNDEFINED)
        height = coords.get("height", UNDEFINED)
    else:  # a primitive has no lng/lat properties
        lng = lat = height = UNDEFINED
    if not (is_numeric(lng) and is_numeric(lat)):
        raise OsemError.unprocessable(
            f"missing latitude or longitude in location {stringify(coords)}"
        )
    x, y = to_number(lng), to_number(lat)
    if abs(x) > 180 or abs(y) > 90:
        raise OsemError.unprocessable(
            f"latitude or longitude is out of bounds in location {to_string(coords)}"
        )
    h = math_round(to_number(height) * 10e3) / 10e3 if is_numeric(height) else None
    return Location(math_round(x * 10e6) / 10e6, math_round(y * 10e6) / 10e6, h)
