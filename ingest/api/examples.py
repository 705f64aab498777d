"""Examples served with the time of the request.

The published examples (``generated/examples/``, the request examples of the OpenAPI
document, the examples in the JSON Schemas and the AsyncAPI document) are generated from
the contract's ``example`` attributes, so their ``event_time`` is a fixed instant. ingest
accepts an ``event_time`` at most 7 days old: copied a week after it was written, a fixed
example is refused (422 ``event_time_too_old``). The generated files must stay byte for
byte what ``iotpipe codegen`` writes (``codegen --check``), so the time is changed where
the documents are served, not where they are made: each fixed instant of an example is
replaced, in the serialized document, by the instant as far from the time of the request
as it is from the contract's example time. The contract's example time itself becomes
"now", an hour before it "an hour ago". Documents are serialized once; per request this is
one scan of the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from iotpipe.contract.catalog import Contract

__all__ = ["ExampleTimes", "contract_example_times"]

_TIMESTAMPS = frozenset({"timestamp-millis", "timestamp-micros"})
# Used only when a contract has no timestamp example at all (then nothing is replaced
# but what the routes ask for with ExampleTimes.at).
_NO_EXAMPLE = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _is_timestamp(avro_type: Any) -> bool:
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    return any(isinstance(b, dict) and b.get("logicalType") in _TIMESTAMPS for b in branches)


def _records(avro_type: Any) -> list[dict[str, Any]]:
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    return [b for b in branches if isinstance(b, dict) and b.get("type") == "record"]


def _collect(record: dict[str, Any], found: set[str]) -> None:
    for field in record.get("fields", []):
        example = field.get("example")
        if isinstance(example, str) and _is_timestamp(field["type"]):
            found.add(example)
        for nested in _records(field["type"]):
            _collect(nested, found)


def contract_example_times(contract: Contract) -> list[str]:
    """The ``example`` texts of the contract's timestamp fields (nested records too)."""
    found: set[str] = set()
    for record_type in contract.record_types:
        _collect(record_type.schema, found)
    return sorted(found)


def _parse(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ExampleTimes:
    """The fixed instants of the published examples, and the documents with them moved to
    the time of the request (``serve``)."""

    def __init__(
        self, contract: Contract, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        texts = contract_example_times(contract)
        instants = {text: _parse(text) for text in texts}
        self.anchor = max(instants.values(), default=_NO_EXAMPLE)  # served as "now"
        self._clock = clock
        self._offsets = {text.encode(): at - self.anchor for text, at in instants.items()}
        self._pattern: re.Pattern[bytes] | None = None

    def at(self, offset: timedelta) -> str:
        """The fixed text of the instant ``offset`` from the contract's example time, for an
        example of a route's own (a job's range, an openSenseMap createdAt); served as the
        time of the request plus ``offset``."""
        text = _text(self.anchor + offset)
        self._offsets[text.encode()] = offset
        self._pattern = None
        return text

    def serve(self, document: bytes) -> bytes:
        """``document`` with each fixed instant replaced (one pass, so a replacement is
        never replaced again)."""
        if not self._offsets:
            return document
        if self._pattern is None:
            alternatives = sorted(self._offsets, key=len, reverse=True)
            self._pattern = re.compile(b"|".join(re.escape(a) for a in alternatives))
        now = self._clock().replace(microsecond=0)
        replaced = {text: _text(now + offset).encode() for text, offset in self._offsets.items()}
        return self._pattern.sub(lambda match: replaced[match.group()], document)
