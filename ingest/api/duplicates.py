"""Find a duplicate member name in a JSON document, cheaply, after orjson parsed it.

orjson (like most parsers) silently keeps the last of two equal names, so
``{"value": 1, "value": 2}`` would be stored as 2 while the sender may believe it sent
1. RFC 8259 leaves such documents' meaning to the parser; ingest refuses them (400,
naming the key) instead.

The check runs on every request, so its common path is a few C-speed scans: in valid
JSON a ``"`` directly followed by ``:`` outside a string ends a member name, and inside
a string it can only appear escaped (``\\"``). So when neither the body nor orjson's
compact re-serialisation of what it kept contains ``\\"``, and no name in the body is
followed by whitespace before its colon, counting ``":`` in both gives the names sent
and the names kept. Equal counts: no duplicate (measured: ~5 us for a reading, ~9 ms
for 5000 readings, about what orjson takes to parse them). Otherwise a slow, exact
parse with ``object_pairs_hook`` decides and finds the name to report.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["duplicate_key"]

_SPACED_NAME = re.compile(rb'"\s+:')  # a name followed by whitespace, then its colon
_ESCAPED_QUOTE = b'\\"'


class _Repeated(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise _Repeated(name)
        seen[name] = value
    return seen


def _exact(body: bytes) -> str | None:
    try:
        json.loads(body, object_pairs_hook=_refuse_repeats)
    except _Repeated as repeated:
        return repeated.name
    except (ValueError, RecursionError):
        # Nested deeper than Python's parser goes (~1000): no record of the contract is
        # that deep, so the contract refuses it whatever its keys.
        return None
    return None


def duplicate_key(body: bytes | str, document: Any) -> str | None:
    """The first repeated member name in ``body`` (valid JSON that orjson parsed into
    ``document``), or None when every object's names are unique."""
    if not isinstance(document, dict | list):
        return None
    raw = body.encode() if isinstance(body, str) else body
    if _ESCAPED_QUOTE not in raw and not _SPACED_NAME.search(raw):
        try:
            kept = orjson.dumps(document)
        except TypeError:  # nested deeper than orjson writes (254): the exact parse decides
            return _exact(raw)
        if _ESCAPED_QUOTE not in kept and raw.count(b'":') == kept.count(b'":'):
            return None
    return _exact(raw)
