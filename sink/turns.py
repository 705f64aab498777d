"""Whose turn it is to write to the database, within one sink: batches first.

The sink writes from two threads: the batch writer (readings and events, on the path
every reading takes) and the views thread (rollups and device status, off that path).
On FerretDB every database is one SQLite file with one write lock. Two writers at once
queue on it, and the one that waits sleeps in SQLite's busy handler (1, 2, 5, 10, 15...
ms) and can miss the moment the lock is free. Measured on FerretDB 1.24 (bare pymongo,
100-document inserts paced every 36 ms): p99 29-37 ms alone, 72-93 ms (max 149 ms)
beside a stream of updates by ``_id`` in the same database, 36-39 ms with the updates in
another database. So the two threads take turns here instead: a batch write waits at
most for the one views operation under way, and the views use the moments between
batch writes. Should no such moment come for ``patience`` seconds (a backlog written
back to back), the next batch write lets one views operation go first, so the views
still advance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Turns"]


class Turns:
    def __init__(self, patience: float = 1.0) -> None:
        self._patience = patience
        self._changed = threading.Condition()
        self._busy = False  # someone is writing
        self._batches_waiting = 0
        self._view_waiting_since: float | None = None

    def _view_overdue(self) -> bool:
        since = self._view_waiting_since
        return since is not None and time.monotonic() - since >= self._patience

    @contextmanager
    def batch(self) -> Iterator[None]:
        """A batch write: goes as soon as the database is free, unless the views have
        waited ``patience`` seconds for a turn (then after their one operation)."""
        with self._changed:
            self._batches_waiting += 1
            try:
                while self._busy or self._view_overdue():
                    self._changed.wait()
            finally:
                self._batches_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def view(self) -> Iterator[None]:
        """One views operation: when neither a batch write runs nor one waits (or when
        the views have waited ``patience`` seconds and the database is free)."""
        with self._changed:
            since = self._view_waiting_since = time.monotonic()
            try:
                while self._busy or (self._batches_waiting and not self._view_overdue()):
                    if self._busy or self._view_overdue():
                        self._changed.wait()  # the write under way notifies when it ends
                    else:
                        self._changed.wait(since + self._patience - time.monotonic())
            except BaseException:
                self._view_waiting_since = None
                self._changed.notify_all()  # a batch may be waiting for this view
                raise
            self._view_waiting_since = None
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._changed:
            self._busy = False
            self._changed.notify_all()
