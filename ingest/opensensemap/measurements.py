"""A measurement as openSenseMap decodes it: sensor id, the value as sent, time, place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Location", "Measurement"]


@dataclass(frozen=True)
class Location:
    """WGS 84, rounded as upstream stores it (lng/lat to 7 decimals, height to 4)."""

    lng: float
    lat: float
    height: float | None = None

    def as_list(self) -> list[float]:
        return [self.lng, self.lat] if self.height is None else [self.lng, self.lat, self.height]


@dataclass(frozen=True)
class Measurement:
    sensor_id: str
    value: str  # verbatim, as upstream stores and returns it ("1e3", " 12.5 ")
    created_at: datetime  # UTC; the request's receive time when the client sent none
    location: Location | None = None
