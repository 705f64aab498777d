"""In-memory store for unit tests: same duplicate semantics, and a switch to fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sink.documents import LATEST, buckets_of, from_members, member, minute_of, rollup, statuses_of
from sink.store import StoreUnavailable, Turn, WriteResult, any_time

__all__ = ["MemoryStore"]


@dataclass
class MemoryStore:
    collections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    rollups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    # Says why the database would refuse a document (None: it takes it), as a server can.
    refuse: Callable[[dict[str, Any]], str | None] | None = None

    def prepare(self) -> list[str]:
        return []

    def write(self, collection: str, documents: Sequence[dict[str, Any]]) -> WriteResult:
        if self.down:
            raise StoreUnavailable("database down (test)")
        stored = self.collections.setdefault(collection, {})
        fresh, refused = [], []
        for index, document in enumerate(documents):
            why = self.refuse(document) if self.refuse else None
            if why is not None:
                refused.append((index, why))
            elif document["event_id"] not in stored:
                stored[document["event_id"]] = dict(document)
                fresh.append(document)
        duplicates = len(documents) - len(fresh) - len(refused)
        return WriteResult(len(fresh), duplicates, tuple(fresh), tuple(refused))

    def add_to_rollups(self, readings: Sequence[dict[str, Any]], turn: Turn = any_time) -> int:
        with turn():
            return self._add_to_rollups(readings)

    def _add_to_rollups(self, readings: Sequence[dict[str, Any]]) -> int:
        if self.down:
            raise StoreUnavailable("database down (test)")
        groups = buckets_of(readings)
        for key, rows in groups.items():
            known = self.members.setdefault(key.id, {})
            known.update({r["event_id"]: member(r) for r in rows})
            like = rollup(key, rows)
            exact = from_members(key, known, like) if like is not None else None
            if exact is not None:
                self.rollups[key.id] = exact.as_document()
        self._update_statuses(readings)
        return len(groups)

    def _update_statuses(self, readings: Sequence[dict[str, Any]]) -> None:
        for s in statuses_of(readings):
            update = s.as_update()
            current = self.statuses.setdefault(s.id, {**update["$setOnInsert"]})
            current.update(update.get("$set", {}))
            current["first_seen"] = min(current.get("first_seen", s.first_seen), s.first_seen)
            current["last_seen"] = max(current.get("last_seen", s.last_seen), s.last_seen)
            current["last_stored"] = max(current.get("last_stored", s.last_stored), s.last_stored)
            if s.latest is not None:  # $max over {time, sensor_id, value, ...}
                held = current.get(LATEST)
                if held is None or _key(s.latest) > _key(held):
                    current[LATEST] = s.latest

    def rebuild_rollups(self, since: datetime) -> int:
        start = minute_of(since)
        rows = [
            r for r in self.collections.get("readings", {}).values() if r["event_time"] >= start
        ]
        self.rollups = {k: v for k, v in self.rollups.items() if v["minute"] < start}
        self.members = {k: v for k, v in self.members.items() if k in self.rollups}
        groups = buckets_of(rows)
        self.members.update(
            {k.id: {r["event_id"]: member(r) for r in rs} for k, rs in groups.items()}
        )
        aggregates = [a for k, rs in groups.items() if (a := rollup(k, rs)) is not None]
        self.rollups.update({a.key.id: a.as_document() for a in aggregates})
        self._update_statuses(rows)
        return len(aggregates)

    def enforce_retention(self, *, sweep: bool = False) -> int:
        return 0


def _key(latest: dict[str, Any]) -> tuple[Any, ...]:
    return latest["time"], latest["sensor_id"], latest["value"]
