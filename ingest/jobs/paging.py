"""Paging backwards through one sensor's measurements: pure, so every edge is testable.

The API answers at most ``page_rows`` rows per call, newest first, for an inclusive
``[from-date, to-date]``. A full page ends somewhere inside the window, so the next page
asks for ``to-date`` = the oldest ``createdAt`` seen: the rows at that instant come back
again and are skipped by fingerprint (a multiset, since equal rows may repeat), which
loses none when many rows share the instant. A full page whose rows all sit at the
``to-date`` itself cannot be paged past by time at all; the cursor then steps one
millisecond back and the instant is reported as ``capped``. (Rows at one instant share
one event id, box/sensor/millisecond, so the readings they could add are copies.)
A short page means the window is exhausted: the next window ends 1 ms before it began.
All of this needs a full page to hold the *newest* rows, as documented; a full page
that is not in descending order fails the job rather than silently skip rows.
Windows are at most ``span`` long, as the API limits a request's time frame.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from ingest.jobs.errors import SourceError
from ingest.jobs.model import iso, parse_time
from ingest.opensensemap.measurements import Location, Measurement

__all__ = ["Row", "Step", "Window", "advance", "parse_row", "window"]

MILLI = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Row:
    created_at: datetime
    value: str
    location: Location | None
    fingerprint: str

    def measurement(self, sensor_id: str) -> Measurement:
        return Measurement(sensor_id, self.value, self.created_at, self.location)


@dataclass(frozen=True)
class Window:
    start: datetime  # from-date, inclusive
    end: datetime  # to-date, inclusive


@dataclass(frozen=True)
class Step:
    """What one page gave: rows to publish, rows that are bad, and the next cursor."""

    fresh: list[Row]
    bad: list[tuple[Any, str]] = field(default_factory=list)
    upper: datetime | None = None  # next to-date; None: the sensor's range is read
    seen: tuple[str, ...] = ()
    capped: str | None = None


def window(start: datetime, upper: datetime, span: timedelta) -> Window:
    return Window(max(start, upper - span), upper)


def _location(value: Any) -> Location | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("coordinates", [value.get("lng"), value.get("lat"), value.get("height")])
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ValueError("location must be [lng, lat] or [lng, lat, height]")
    numbers = [v for v in value if v is not None]
    if len(numbers) < 2 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in numbers
    ):
        raise ValueError("location coordinates must be numbers")
    height = float(numbers[2]) if len(numbers) == 3 else None
    return Location(float(numbers[0]), float(numbers[1]), height)


def _created_at(raw: Any) -> datetime:
    if not isinstance(raw, dict):
        raise ValueError("a row must be a JSON object")
    created = raw.get("createdAt")
    if not isinstance(created, str):
        raise ValueError("createdAt is missing or not a string")
    try:
        return parse_time(created)
    except ValueError as exc:
        raise ValueError(f"createdAt {created!r} is not an RFC 3339 time") from exc


def _fingerprint(created_at: datetime, raw: dict[str, Any]) -> str:
    """Identifies a row among those at the same instant (saved in the cursor)."""
    key = f"{created_at.timestamp()!r}|{raw.get('value')!r}|{raw.get('location')!r}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def parse_row(raw: Any, created_at: datetime | None = None) -> Row:
    """One row ``{value, createdAt, location?}``; ValueError says what is wrong with it.
    ``created_at``: the row's time when the caller has parsed it already."""
    if created_at is None:
        created_at = _created_at(raw)
    value = raw.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = repr(value)
    if not isinstance(value, str):
        raise ValueError("value is missing or not a string")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"value {value!r} is not a number") from exc
    if not math.isfinite(number):
        raise ValueError(f"value {value!r} is not finite")
    location = _location(raw.get("location"))
    return Row(created_at, value, location, _fingerprint(created_at, raw))


def advance(
    raws: Sequence[Any],
    page: Window,
    seen: Sequence[str],
    *,
    start: datetime,
    page_rows: int,
) -> Step:
    """Split one page into new and bad rows and say where the next page ends."""
    fresh: list[Row] = []
    bad: list[tuple[Any, str]] = []
    timed: list[tuple[datetime, str]] = []  # every in-window row with a readable time
    again = Counter(seen)
    for raw in raws:
        try:
            created_at = _created_at(raw)
        except ValueError as exc:
            bad.append((raw, str(exc)))
            continue
        if not page.start <= created_at <= page.end:
            bad.append((raw, f"createdAt outside the requested {iso(page.start)}..{iso(page.end)}"))
            continue
        fingerprint = _fingerprint(created_at, raw)
        timed.append((created_at, fingerprint))
        if created_at == page.end and again[fingerprint] > 0:
            again[fingerprint] -= 1  # read on the previous page
            continue
        try:
            fresh.append(parse_row(raw, created_at))
        except ValueError as exc:
            bad.append((raw, str(exc)))
    if len(raws) < page_rows:  # the window is exhausted
        if page.start <= start:
            return Step(fresh, bad)
        return Step(fresh, bad, upper=page.start - MILLI)
    if not timed:
        raise SourceError(
            f"a full page of {len(raws)} rows without one readable createdAt: cannot page further",
            retryable=False,
        )
    moments = [moment for moment, _ in timed]
    if any(newer < older for newer, older in pairwise(moments)):
        # Paging by to-date is only right if a full page holds the newest rows.
        raise SourceError(
            "the source does not answer newest first; paging backwards would lose rows",
            retryable=False,
        )
    oldest = min(moments)
    if oldest == page.end:  # every row at one instant: only stepping past it moves on
        upper = page.end - MILLI
        return Step(fresh, bad, upper=upper if upper >= start else None, capped=iso(page.end))
    boundary = tuple(fp for moment, fp in timed if moment == oldest)
    return Step(fresh, bad, upper=oldest, seen=boundary)
