"""Boxes and sensors as openSenseMap describes them, and the port to look them up.

``Box.from_osem`` reads the JSON ``GET /boxes/:id`` answers (``_id``, ``name``,
``model``, ``sensors[]`` with ``_id``, ``title``, ``unit``, ``sensorType``; for owners
also ``access_token`` and ``useAuth``). The raw access token never leaves this module:
a box keeps its SHA-256 and checks a presented token in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from iotpipe.errors import ConfigError

__all__ = [
    "OBJECT_ID",
    "Box",
    "BoxDirectory",
    "InMemoryBoxes",
    "Sensor",
    "hash_token",
]

OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
# Models whose boxes authenticate by default (upstream: senseBox home/homeV2/hackair).
_AUTH_BY_DEFAULT = re.compile(r"^(home|homeV2|hackair)", re.IGNORECASE)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Sensor:
    id: str
    title: str
    unit: str
    sensor_type: str
    icon: str | None = None

    def as_osem(self) -> dict[str, Any]:
        out = {"_id": self.id, "title": self.title, "unit": self.unit}
        out["sensorType"] = self.sensor_type
        if self.icon:
            out["icon"] = self.icon
        return out


@dataclass(frozen=True)
class Box:
    """One box (a device of the contract: ``device_id`` is the box id)."""

    id: str
    name: str
    sensors: tuple[Sensor, ...]
    model: str = "custom"
    exposure: str = "unknown"
    use_auth: bool = False
    token_sha256: str | None = None
    # currentLocation as (longitude, latitude, height or None).
    location: tuple[float, float, float | None] | None = None
    _by_id: Mapping[str, Sensor] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {s.id: s for s in self.sensors})

    def sensor(self, sensor_id: str) -> Sensor | None:
        return self._by_id.get(sensor_id.lower())

    def token_matches(self, presented: str | None) -> bool:
        """Upstream's rule for the raw ``Authorization`` value, compared in constant time."""
        if self.token_sha256 is None:
            return True  # a box without a token accepts anything (as upstream)
        given = hash_token(presented or "")
        return hmac.compare_digest(given, self.token_sha256)

    def requires_token(self, *, hackair: bool = False) -> bool:
        return (self.use_auth or hackair) and self.token_sha256 is not None

    @classmethod
    def from_osem(cls, data: Mapping[str, Any]) -> Box:
        """A box from openSenseMap's JSON (``GET /boxes/:id``, or the owner's view).

        Ids are kept lower-case (ObjectIds are hex; upstream compares them as such).
        """
        box_id = data.get("_id")
        if not isinstance(box_id, str) or not OBJECT_ID.match(box_id):
            raise ConfigError(f"box _id must be 24 hex characters, got {box_id!r}")
        raw_sensors = data.get("sensors")
        if not isinstance(raw_sensors, list):
            raise ConfigError(f"box {box_id}: 'sensors' must be a list")
        sensors = []
        for i, s in enumerate(raw_sensors):
            if not isinstance(s, Mapping):
                raise ConfigError(f"box {box_id}: sensors[{i}] must be an object")
            sid = s.get("_id")
            if not isinstance(sid, str) or not OBJECT_ID.match(sid):
                raise ConfigError(f"box {box_id}: sensors[{i}]._id must be 24 hex characters")
            sensors.append(
                Sensor(
                    id=sid.lower(),
                    title=str(s.get("title") or ""),
                    unit=str(s.get("unit") or ""),
                    sensor_type=str(s.get("sensorType") or ""),
                    icon=s.get("icon") if isinstance(s.get("icon"), str) else None,
                )
            )
        model = str(data.get("model") or "custom")
        use_auth = data.get("useAuth")
        if not isinstance(use_auth, bool):
            use_auth = bool(_AUTH_BY_DEFAULT.match(model))
        token = data.get("access_token")
        token_sha = data.get("access_token_sha256")
        if isinstance(token, str) and token:
            token_sha = hash_token(token)
        elif not (isinstance(token_sha, str) and re.fullmatch(r"[0-9a-f]{64}", token_sha)):
            token_sha = None
        return cls(
            id=box_id.lower(),
            name=str(data.get("name") or box_id),
            sensors=tuple(sensors),
            model=model,
            exposure=str(data.get("exposure") or "unknown"),
            use_auth=use_auth,
            token_sha256=token_sha,
            location=_location(data.get("currentLocation")),
        )

    def as_registry(self) -> dict[str, Any]:
        """The JSON the registry keeps: openSenseMap's shape, the token only as a hash."""
        out: dict[str, Any] = {
            "_id": self.id,
            "name": self.name,
            "model": self.model,
            "exposure": self.exposure,
            "useAuth": self.use_auth,
            "sensors": [s.as_osem() for s in self.sensors],
        }
        if self.token_sha256:
            out["access_token_sha256"] = self.token_sha256
        if self.location is not None:
            lng, lat, height = self.location
            coords = [lng, lat] if height is None else [lng, lat, height]
            out["currentLocation"] = {"type": "Point", "coordinates": coords}
        return out


def _location(value: Any) -> tuple[float, float, float | None] | None:
    if not isinstance(value, Mapping):
        return None
    coords = value.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        return None
    try:
        lng, lat = float(coords[0]), float(coords[1])
        height = float(coords[2]) if len(coords) > 2 and coords[2] is not None else None
    except (TypeError, ValueError):
        return None
    return (lng, lat, height)


class BoxDirectory(Protocol):
    """Looks boxes up by id (real adapter: the registry topic follower; fake: InMemoryBoxes)."""

    def get(self, box_id: str) -> Box | None: ...

    @property
    def caught_up(self) -> bool:
        """Has the directory read every box that existed when it started? (readiness)"""
        ...


class InMemoryBoxes:
    """A directory held in a dict: tests, and the follower's current view."""

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        self._boxes = {b.id: b for b in boxes}

    def get(self, box_id: str) -> Box | None:
        return self._boxes.get(box_id.lower())

    @property
    def caught_up(self) -> bool:
        return True

    def put(self, box: Box) -> None:
        self._boxes[box.id] = box

    def remove(self, box_id: str) -> None:
        self._boxes.pop(box_id, None)

    def all(self) -> list[Box]:
        return sorted(self._boxes.values(), key=lambda b: b.id)
