"""Rollups and device status, written off the sink's write path.

The documents a batch stored (or found stored: duplicates) are what count: the runner
hands them here after the insert and commits the batch's offsets once a flush has
written them (``flushed``). A background thread merges what arrived and writes the
rollups and statuses every ``views_flush_seconds`` (a few updates per series per flush
instead of per batch, which matters on FerretDB, where each update costs a SQLite
transaction). If the database is down, pending readings wait for the next flush; on
shutdown the thread flushes what is left. A crash loses nothing here: the readings not
yet flushed are in batches not yet committed, so they are delivered again, and the
store counts a reading it has seen once only (sink.store.mongo.add_to_rollups).

The views get at most ``max_db_share`` of the database's time: after a flush that took
``d`` seconds the next one waits at least ``d * (1 - share) / share``. On FerretDB an
update costs 5-20 ms (a SQLite transaction each, measured), so while a backlog drains,
flushing every second kept the database busy with rollups about two thirds of the time
and the sink stored a third of what it could (measured: 495 vs 1,533 docs/s). Waiting
longer loses nothing: what waits is merged, so the next flush costs about the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sink.health import SinkMetrics
from sink.store import DocumentStore, StoreUnavailable
from sink.turns import Turns

__all__ = ["ViewUpdater", "pause_after"]

log = logging.getLogger("iotpipe.sink.views")
_FIELDS = ("event_id", "device_id", "sensor_id", "sensor_kind", "unit", "value", "event_time",
           "stored_time")  # fmt: skip


def pause_after(took: float, max_db_share: float) -> float:
    """Seconds the views leave the database to the batch writes after one of their
    operations took ``took`` seconds, so that they take at most ``max_db_share`` of its
    time."""
    return took * (1 - max_db_share) / max_db_share


class ViewUpdater:
    def __init__(
        self,
        store: DocumentStore,
        metrics: SinkMetrics,
        *,
        flush_seconds: float,
        max_pending: int,
        max_db_share: float = 1.0,
        turns: Turns | None = None,
    ) -> None:
        """``turns``: the sink's database turns (batch writes first); None: write at
        any time."""
        self._store = store
        self._metrics = metrics
        self._flush_seconds = flush_seconds
        self._max_db_share = max_db_share
        self._max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._added = 0  # readings handed to add(), ever
        self._flushed = 0  # ...of which the first this many are written (or dropped)
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._hurried = threading.Event()  # set: no share pauses (commits are waiting)
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._turns = turns

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def start(self) -> None:
        if self._flush_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sink-views", daemon=True)
            self._thread.start()

    def hurry(self, on: bool) -> None:
        """Write without the share's pauses (``on``) or keep to the share again."""
        if on:
            self._hurried.set()
        else:
            self._hurried.clear()

    @property
    def ticket(self) -> int:
        """How many readings were handed to ``add`` so far: once ``flushed`` reaches it,
        they are all written."""
        with self._lock:
            return self._added

    @property
    def flushed(self) -> int:
        with self._lock:
            return self._flushed

    def add(self, readings: Sequence[dict[str, Any]]) -> None:
        """Stored readings (duplicates too: a replayed batch's readings may not have
        been counted) to count in the views."""
        slim = [{k: r[k] for k in _FIELDS} for r in readings]
        with self._lock:
            self._added += len(slim)
            self._pending.extend(slim)
            overflow = len(self._pending) - self._max_pending
            if overflow > 0:
                del self._pending[:overflow]
                log.error(
                    "views: %d readings dropped from the rollup backlog (database unreachable "
                    "too long); run `iotpipe db rebuild-rollups` once it is back",
                    overflow,
                )
            self._metrics.views_pending.set(len(self._pending))
        if self._flush_seconds == 0:
            self.flush()

    def flush(self) -> bool:
        """Write what is pending; False (and it stays pending) if the database refused."""
        with self._flushing:  # one at a time: ``flushed`` must not pass one under way
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            batch, self._pending = self._pending, []
            upto = self._added
            if not batch:
                self._flushed = upto
        if not batch:
            return True
        started = time.perf_counter()
        try:
            self._store.add_to_rollups(batch, self._turn)
        except StoreUnavailable as exc:
            with self._lock:
                self._pending[:0] = batch
                self._metrics.views_pending.set(len(self._pending))
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.warning("views: update failed, kept for the next flush: %s", exc)
            if self._flush_seconds == 0:
                raise
            return False
        if self._failing_since is not None:
            log.info("views: updating again after %.0fs", time.monotonic() - self._failing_since)
            self._failing_since = None
        self._metrics.views_flush_seconds.observe(time.perf_counter() - started)
        with self._lock:
            self._flushed = max(self._flushed, upto)
            self._metrics.views_pending.set(len(self._pending))
        return True

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """One database operation of a flush, in its turn (batch writes first); in the
        background, followed by a pause in proportion to the time it took (not the
        wait for the turn), so the views keep to their share of the database."""
        with self._turns.view() if self._turns is not None else nullcontext():
            started = time.perf_counter()
            yield
            took = time.perf_counter() - started
        if threading.current_thread() is self._thread and not self._hurried.is_set():
            self._stop.wait(pause_after(took, self._max_db_share))  # none once closing

    def _loop(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and flush what is left (retrying until ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while not self._safe_flush() and time.monotonic() < deadline:
            time.sleep(0.5)
        if self.pending:
            log.error(
                "views: %d readings not counted in the rollups at shutdown; "
                "run `iotpipe db rebuild-rollups`",
                self.pending,
            )

    def _safe_flush(self) -> bool:
        try:
            return self.flush()
        except StoreUnavailable:
            return False
