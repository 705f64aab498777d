"""The database port: what the sink needs from a document store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["DocumentStore", "StoreUnavailable", "Turn", "WriteResult", "any_time"]

# Wraps each database operation of a views update: whose turn it is to write (see
# sink.turns). ``any_time`` when nothing else writes.
Turn = Callable[[], AbstractContextManager[object]]
any_time: Turn = nullcontext


class StoreUnavailable(Exception):
    """The database did not take the write; retry later (nothing was lost)."""


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    fresh: tuple[dict[str, Any], ...] = ()  # the documents this write stored (not duplicates)
    # Documents the database refuses as they are (index into the write, its message): not
    # a duplicate and not a passing failure, so retrying would stall the sink for ever.
    refused: tuple[tuple[int, str], ...] = ()


class DocumentStore(Protocol):
    def prepare(self) -> list[str]:
        """Create collections and indexes (idempotent); notes on what the server lacks."""
        ...

    def write(self, collection: str, documents: Sequence[dict[str, Any]]) -> WriteResult:
        """Insert; a document whose event_id is stored already counts as a duplicate, one
        the database refuses for what it holds is in ``refused`` (the others are stored);
        StoreUnavailable when the write may succeed later."""
        ...

    def add_to_rollups(self, readings: Sequence[dict[str, Any]], turn: Turn = any_time) -> int:
        """Add freshly stored readings to their minute rollups and their devices' status
        (first and last seen), each database operation inside a ``turn()``; returns
        rollup buckets touched."""
        ...

    def rebuild_rollups(self, since: datetime) -> int:
        """Recompute every rollup from ``since`` on exactly from the stored readings, and
        merge those readings into the devices' status."""
        ...

    def enforce_retention(self, *, sweep: bool = False) -> int:
        """Delete what is older than the retention period, where TTL does not; count.
        ``sweep``: look at everything stored, not only where expired documents are
        expected (slow; run rarely)."""
        ...
