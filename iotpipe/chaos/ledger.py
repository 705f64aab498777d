"""What the load driver knows about every reading it sent, by event_id, and about every
request it made, in time order.

A reading ends in one of three states: ``acknowledged`` (2xx: ingest promised it is in
Kafka), ``rejected`` (4xx naming the record: it must never be stored) or ``failed``
(5xx, 429, a connection error: no promise either way, so it may be stored or not, and
the driver retries it with the same event_id). Deliberately invalid readings are marked
``bad``: each must end ``rejected``.

It stays cheap at hundreds of thousands of readings: one dict entry per reading, and the
acknowledgement times in one list that only grows at its end (they are taken under the
lock, so in order), searched by bisection rather than scanned.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = ["Answer", "Ledger", "State", "longest_503_stretch"]

State = Literal["acknowledged", "rejected", "failed"]


class Answer(NamedTuple):
    """One request: when it was answered (monotonic), how, and how long it took."""

    at: float
    status: int  # HTTP status; 0: no answer (connection error, timeout)
    seconds: float
    deliberate: bool  # a 4xx for readings that were all invalid on purpose


@dataclass
class Ledger:
    state: dict[str, State] = field(default_factory=dict)
    # event_id -> the version of the ingest replica that acknowledged it (when labelled)
    acknowledged_by: dict[str, str] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)  # rejections by error code
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP answers (0: no answer)
    retry_after_missing: int = 0  # 503/429 answers without Retry-After (a defect)
    retries: int = 0
    answers: list[Answer] = field(default_factory=list)
    _acked_times: list[float] = field(default_factory=list)  # non-decreasing
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sent(self, event_id: str, *, bad: bool) -> bool:
        """Record a send; True when it is the reading's first."""
        with self._lock:
            first = event_id not in self.state
            if first:
                self.state[event_id] = "failed"  # until an answer says otherwise
            else:
                self.retries += 1
            if bad:
                self.bad.add(event_id)
            return first

    def settle(
        self, event_id: str, state: State, reason: str | None = None, *, by: str = ""
    ) -> None:
        """The reading's fate as an answer tells it; ``by``: the answering replica's version."""
        with self._lock:
            if self.state.get(event_id) == "acknowledged":
                return  # an acknowledgement is never taken back
            self.state[event_id] = state
            if state == "acknowledged":
                self._acked_times.append(time.monotonic())
                if by:
                    self.acknowledged_by[event_id] = by
            elif state == "rejected":
                self.reasons[reason or "unknown"] += 1

    def answer(
        self,
        status: int,
        *,
        retry_after: bool,
        seconds: float = 0.0,
        deliberate: bool = False,
    ) -> None:
        with self._lock:
            self.statuses[status] += 1
            if status in (429, 503) and not retry_after:
                self.retry_after_missing += 1
            self.answers.append(Answer(time.monotonic(), status, seconds, deliberate))

    def ids(self, state: State) -> set[str]:
        with self._lock:
            return {i for i, s in self.state.items() if s == state}

    def acknowledged_between(self, start: float, end: float) -> int:
        with self._lock:
            times = self._acked_times
            return bisect.bisect_right(times, end) - bisect.bisect_left(times, start)

    def first_acknowledged_after(self, moment: float) -> float | None:
        """The monotonic time of the first acknowledgement after ``moment``, if any."""
        with self._lock:
            index = bisect.bisect_right(self._acked_times, moment)
            return self._acked_times[index] if index < len(self._acked_times) else None

    @property
    def acknowledged_count(self) -> int:
        with self._lock:
            return len(self._acked_times)

    @property
    def sent_count(self) -> int:
        with self._lock:
            return len(self.state)

    def timeline(self) -> list[Answer]:
        with self._lock:
            return sorted(self.answers)

    def error_rate(self) -> float:
        """Requests answered neither 2xx nor a deliberate 4xx (no answer counts), over all."""
        with self._lock:
            answers = list(self.answers)
        if not answers:
            return 0.0
        errors = sum(1 for a in answers if not 200 <= a.status < 300 and not a.deliberate)
        return errors / len(answers)


def longest_503_stretch(timeline: list[Answer]) -> tuple[float, bool]:
    """The longest time from a first 503 to the next 2xx, in seconds, and whether the
    last stretch never ended (no 2xx after it: the pipeline had not recovered)."""
    longest, opened = 0.0, None
    for answer in timeline:
        if answer.status == 503 and opened is None:
            opened = answer.at
        elif 200 <= answer.status < 300 and opened is not None:
            longest, opened = max(longest, answer.at - opened), None
    if opened is not None:
        return max(longest, timeline[-1].at - opened), True
    return longest, False
