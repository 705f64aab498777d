"""hackAIR JSON (``?hackair=true``, ``hackairHandler``).

``{"reading": {"PM2.5_AirPollutantValue": "7.93", "PM10_AirPollutantValue": "32.63"},
...}``: a key is lower-cased, its FIRST "." removed, and the part before the first "_"
is the phenomenon (pm25, pm10; anything else is dropped). A sensor matches by title only
(equal, an alias, or containing an alias), first in box order. Other top-level keys are
ignored; createdAt is the receive time. (The token is always required for hackAIR; that
is the route's check.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ingest.opensensemap.decoding._js import UNDEFINED, js_keys, truthy
from ingest.opensensemap.decoding.json_body import parse_json_body
from ingest.opensensemap.errors import OsemError
from iotpipe.devices.boxes import Sensor

__all__ = ["decode_hackair"]

MATCHINGS: Final[dict[str, tuple[str, ...]]] = {
    "pm10": ("pm10", "p10", "p1"),
    "pm25": ("pm2.5", "pm25", "p2.5", "p25", "p2"),
}


def _find_sensor_id(sensors: Sequence[Sensor], key: str) -> str | None:
    phenomenon = key.lower().replace(".", "", 1).split("_")[0]
    aliases = MATCHINGS.get(phenomenon)
    if aliases is None:
        return None
    for sensor in sensors:
        title = sensor.title.lower()
        if title == phenomenon or title in aliases or any(a in title for a in aliases):
            return sensor.id
    return None


def decode_hackair(body: bytes, sensors: Sequence[Sensor]) -> list[object]:
    """The matched measurements (not validated yet)."""
    doc = parse_json_body(body, "hackair")
    reading = doc.get("reading", UNDEFINED) if isinstance(doc, dict) else UNDEFINED
    if not truthy(reading):
        raise OsemError.unprocessable("Invalid hackair json. Missing `readings`")
    out: list[object] = []
    if isinstance(reading, dict):  # a string's or array's indices never match
        for key in js_keys(reading):
            sensor_id = _find_sensor_id(sensors, key)
            if sensor_id:
                out.append({"sensor_id": sensor_id, "value": reading[key]})
    if not out:
        raise OsemError.unprocessable("No applicable values found")
    return out
