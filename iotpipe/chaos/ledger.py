"""What the load driver knows about every reading it sent, by event_id.

A reading ends in one of three states: ``acknowledged`` (2xx: ingest promised it is in
Kafka), ``rejected`` (4xx naming the record: it must never be stored) or ``failed``
(5xx, 429, a connection error: no promise either way, so it may be stored or not, and
the driver retries it with the same event_id). Deliberately invalid readings are marked
``bad``: each must end ``rejected``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Ledger", "State"]

State = Literal["acknowledged", "rejected", "failed"]


@dataclass
class Ledger:
    state: dict[str, State] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)  # rejections by error code
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP answers (0: no answer)
    retry_after_missing: int = 0  # 503/429 answers without Retry-After (a defect)
    retries: int = 0
    acked_at: dict[str, float] = field(default_factory=dict)  # event_id -> monotonic time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sent(self, event_id: str, *, bad: bool) -> None:
        with self._lock:
            if event_id in self.state:
                self.retries += 1
            if bad:
                self.bad.add(event_id)

    def settle(self, event_id: str, state: State, reason: str | None = None) -> None:
        with self._lock:
            if self.state.get(event_id) == "acknowledged":
                return  # an acknowledgement is never taken back
            self.state[event_id] = state
            if state == "acknowledged":
                self.acked_at[event_id] = time.monotonic()
            elif state == "rejected":
                self.reasons[reason or "unknown"] += 1

    def answer(self, status: int, *, retry_after: bool) -> None:
        with self._lock:
            self.statuses[status] += 1
            if status in (429, 503) and not retry_after:
                self.retry_after_missing += 1

    def ids(self, state: State) -> set[str]:
        with self._lock:
            return {i for i, s in self.state.items() if s == state}

    def acknowledged_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for t in self.acked_at.values() if start <= t <= end)

    @property
    def sent_count(self) -> int:
        with self._lock:
            return len(self.state)
