"""CSV bodies (``csvHandler``): one ``sensorId,value[,createdAt[,lng,lat[,height]]]`` a line.

Exactly as upstream, which is what real senseBox sketches rely on: lines split on
``\\r?\\n`` (a trailing or blank line is skipped), fields split on "," and trimmed (the
``%9.2f`` padding in ``id,    21.34`` goes), leading empty fields dropped, no header
line. 2..6 fields, else 422 "illegal line '<fields joined by ,>'"; a 4th field alone (a
longitude without latitude) is ignored; with 5 or 6 fields the location is
``{lng, lat, height}`` of ``parseFloat`` values (NaN where not numeric, shown as null).
An empty ``createdAt`` field ("id,1,") is parsed, and fails. Values stay strings.
"""

from __future__ import annotations

import math
from typing import Any

from ingest.opensensemap.decoding._js import UNDEFINED, WHITESPACE, parse_float
from ingest.opensensemap.errors import OsemError

__all__ = ["decode_csv"]


def decode_csv(body: bytes) -> list[object]:
    """The measurements as upstream's validator receives them (not validated yet)."""
    text = body.decode("utf-8", "replace")
    if not text:
        raise OsemError.unprocessable("Cannot decode empty message (csv decoder)")
    out: list[object] = []
    for line in text.split("\n"):
        fields = [f.strip(WHITESPACE) for f in line.split(",")]  # trim() drops the \r too
        start = 0
        while start < len(fields) and fields[start] == "":
            start += 1
        if start:
            fields = fields[start:]
        n = len(fields)
        if n == 0:
            continue
        if not 2 <= n <= 6:
            raise OsemError.unprocessable(f"illegal line '{','.join(fields)}'")
        measurement: dict[str, Any] = {
            "sensor_id": fields[0],
            "value": fields[1],
            "createdAt": fields[2] if n > 2 else UNDEFINED,
        }
        if n >= 5:
            measurement["location"] = {
                "lng": parse_float(fields[3]),
                "lat": parse_float(fields[4]),
                "height": parse_float(fields[5]) if n == 6 else math.nan,
            }
        out.append(measurement)
    return out
