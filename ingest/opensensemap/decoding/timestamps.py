"""Upstream's createdAt grammar (``utils.parseTimestamp``), with RFC 3339 fractions.

Accepted: ``YYYY-MM-DDTHH:MM:SS[.fraction]Z``, UTC only, ``T``/``Z`` in either case,
calendar-valid (moment strict: 2017-02-29, month 00, hour 42, second 60 are invalid;
``24:00:00`` is the next midnight). No offsets, no space separator, seconds mandatory.

Deliberate differences from upstream (README "quirks ... should NOT be required"):
- the fraction is a decimal fraction of a second (``.5`` -> 500 ms), truncated to
  milliseconds (upstream reads 1-2 digits as milliseconds and divides longer ones by 1e6);
- every field is digits only: upstream's ``parseInt`` would also take ``+201``, `` 1``
  or ``20x8`` as numbers, and ignores anything after a second ``T`` or third ``:``;
- year 0000 is refused (Python's datetime starts at year 1; moment accepts it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from ingest.opensensemap.decoding._js import iso_millis

__all__ = ["iso_millis", "parse_timestamp"]

_RFC3339_UTC: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?[Zz]"
)


def parse_timestamp(text: str) -> datetime | None:
    """The instant (UTC, millisecond precision), or None where upstream says invalid."""
    m = _RFC3339_UTC.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction = m.groups()
    millis = int(fraction[:3].ljust(3, "0")) if fraction else 0
    hours = int(hour)
    next_day = (
        hours == 24 and minute == "00" and second == "00" and not (fraction or "0").strip("0")
    )
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            0 if next_day else hours,
            int(minute),
            int(second),
            millis * 1000,
            tzinfo=UTC,
        )
        return moment + timedelta(days=1) if next_day else moment
    except (ValueError, OverflowError):
        return None
