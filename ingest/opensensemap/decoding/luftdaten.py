"""sensor.community / airrohr JSON (``?luftdaten=1``, ``luftdatenHandler``).

``{"sensordatavalues": [{"value_type": "SDS_P1", "value": "5.38"}, ...]}``: a
``value_type`` is lower-cased and split at its first "_" into ``<sensortype>_<phenomenon>``
(bare temperature/humidity -> sensortype "dht", bare signal -> "wifi"). A box sensor
matches when its lower-cased title equals the phenomenon, equals one of its aliases or
contains one, and its lower-cased sensorType starts with the sensortype; the first match
in box order wins; unmatched values (samples, min_micro, ...) are dropped. createdAt is
always the receive time.

Where upstream throws a TypeError (a 500), we answer 422 instead: ``sensordatavalues``
not an array -> the "Missing `sensordatavalues`" message; entries that are not objects
or lack a string ``value_type`` are dropped like unmatched ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ingest.opensensemap.decoding._js import UNDEFINED, truthy
from ingest.opensensemap.decoding.json_body import parse_json_body
from ingest.opensensemap.errors import OsemError
from iotpipe.devices.boxes import Sensor

__all__ = ["decode_luftdaten", "find_sensor_id"]

MATCHINGS: Final[dict[str, tuple[str, ...]]] = {
    "p0": ("pm01", "pm0", "p1.0", "p0"),
    "p01": ("pm0.1", "p0.1"),
    "p03": ("pm0.3", "pm03", "p0.3", "p03"),
    "p05": ("pm0.5", "pm05", "p0.5", "p05"),
    "p1": ("pm10", "p10", "p1"),
    "p2": ("pm2.5", "pm25", "p2.5", "p25", "p2"),
    "p4": ("pm4", "p4"),
    "p5": ("pm5", "p5"),
    "n1": ("nc1.0", "nc1", "n1.0", "n1"),
    "n01": ("nc0.1", "n0.1", "nc01", "n01"),
    "n03": ("nc0.3", "n0.3", "nc03", "n03"),
    "n05": ("nc0.5", "n0.5", "nc05", "n05"),
    "n4": ("nc4.0", "n4.0", "nc4", "n4"),
    "n5": ("nc5", "n5"),
    "n10": ("nc10", "n10"),
    "n25": ("nc2.5", "n2.5"),
    "temperature": ("temperatur",),
    "humidity": ("rel. luftfeuchte", "luftfeuchtigkeit", "luftfeuchte"),
    "pressure": ("luftdruck", "druck"),
    "signal": ("stärke", "signal"),
    "noise_laeq": ("schallpegel", "geräuschpegel"),
}


def find_sensor_id(sensors: Sequence[Sensor], value_type: str) -> str | None:
    lowered = value_type.lower()
    split_at = lowered.find("_")
    phenomenon: str | None
    if split_at > 0:
        sensortype, phenomenon = lowered[:split_at], lowered[split_at + 1 :]
    else:
        parts = lowered.split("_")
        sensortype, phenomenon = parts[0], parts[1] if len(parts) > 1 else None
    if not phenomenon and sensortype in ("temperature", "humidity"):
        sensortype, phenomenon = "dht", sensortype
    elif not phenomenon and sensortype == "signal":
        sensortype, phenomenon = "wifi", sensortype
    aliases = MATCHINGS.get(phenomenon or "")
    if aliases is None:
        return None
    for sensor in sensors:
        if not (sensor.title and sensor.sensor_type):
            continue
        title = sensor.title.lower()
        if (
            title == phenomenon or title in aliases or any(a in title for a in aliases)
        ) and sensor.sensor_type.lower().startswith(sensortype):
            return sensor.id
    return None


def decode_luftdaten(body: bytes, sensors: Sequence[Sensor]) -> list[object]:
    """The matched measurements (not validated yet)."""
    doc = parse_json_body(body, "luftdaten")
    values = doc.get("sensordatavalues", UNDEFINED) if isinstance(doc, dict) else UNDEFINED
    if not truthy(values) or not isinstance(values, list):
        raise OsemError.unprocessable("Invalid luftdaten json. Missing `sensordatavalues`")
    out: list[object] = []
    for entry in values:
        if not isinstance(entry, dict) or not isinstance(entry.get("value_type"), str):
            continue
        sensor_id = find_sensor_id(sensors, entry["value_type"])
        if sensor_id:
            measurement: dict[str, Any] = {"sensor_id": sensor_id}
            measurement["value"] = entry.get("value", UNDEFINED)
            out.append(measurement)
    if not out:
        raise OsemError.unprocessable("No applicable values found")
    return out
