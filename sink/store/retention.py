"""Retention on a server without TTL indexes (FerretDB 1.24 on SQLite), at a cost set by
what expires rather than by what is stored.

FerretDB 1.24's SQLite backend pushes one kind of filter down to SQLite: ``{_id: <string
or ObjectId>}`` alone (``internal/backends/sqlite/collection.go``, ``Query``). Any other
filter, ``_id`` ranges included, reads the whole table and filters in Go, so
``delete_many({"event_time": {"$lt": cutoff}})`` examines every stored document (1 M
readings: minutes). Two things it does push down: a ``find`` with an empty filter, no sort
and no skip sends its limit to SQLite (``SELECT ... LIMIT n``, a scan that stops after
``n`` rows of the table, which come in rowid order, i.e. the order they were inserted), and
a delete by ``_id`` is an index search.

So the walk: read the front of the collection, the oldest stored documents, a page at a
time (``_id`` and the time field only); delete those whose time is past the cutoff, one
``_id`` each; look one page further, past what was kept, as long as the last look found
something to delete. Readings, events and rollup buckets are stored in about the order of
their time, so a run examines what it deletes plus about a page. A document stored long
after its time (a backfill) sits behind younger ones: the walk reaches it when they expire,
late by as long as it took to arrive; ``sweep`` (the old whole-collection delete, run
rarely) bounds that. Not for documents updated in place with a moving time (device status):
their place in the table says nothing about their time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DeleteOne
from pymongo.collection import Collection

from sink.documents import as_utc

__all__ = ["PAGE", "Walk", "sweep", "walk"]

# Documents read per look at the front; a run examines at most about this many documents
# that it does not delete (plus any unexpired ones that were stored before expired ones).
PAGE = 1000
# A look never reads more than this many documents: past it the rest waits for the next
# run (or the sweep), so many unexpired documents in front cannot make a run expensive.
MAX_WINDOW = 20 * PAGE


@dataclass(frozen=True)
class Walk:
    """What a retention run did to one collection: documents deleted, and documents the
    server read to do it (each one read at the front, plus each delete's own look-up)."""

    deleted: int = 0
    examined: int = 0

    def __add__(self, other: Walk) -> Walk:
        return Walk(self.deleted + other.deleted, self.examined + other.examined)


def _expired(value: Any, cutoff: datetime) -> bool:
    """As ``{field: {"$lt": cutoff}}`` matches: a date before the cutoff (a client without
    ``tz_aware`` reads naive UTC); a missing or non-date field never."""
    if not isinstance(value, datetime):
        return False
    return as_utc(value) < cutoff


def walk(
    collection: Collection[dict[str, Any]],
    field: str,
    cutoff: datetime,
    *,
    page: int = PAGE,
    max_window: int = MAX_WINDOW,
) -> Walk:
    """Delete the documents at the front of ``collection`` whose ``field`` is before
    ``cutoff``: see the module's docstring."""
    done = Walk()
    window = page
    while True:
        front = list(collection.find({}, {"_id": 1, field: 1}).limit(window))
        gone = [d["_id"] for d in front if _expired(d.get(field), cutoff)]
        deleted = 0
        if gone:
            result = collection.bulk_write([DeleteOne({"_id": i}) for i in gone], ordered=False)
            deleted = result.deleted_count
        done += Walk(deleted, len(front) + len(gone))
        if not gone or len(front) < window or window >= max_window:
            return done
        window = min(len(front) - len(gone) + page, max_window)


def sweep(collection: Collection[dict[str, Any]], field: str, cutoff: datetime) -> int:
    """The whole-collection delete (FerretDB reads every stored document for it); deleted."""
    return collection.delete_many({field: {"$lt": cutoff}}).deleted_count
