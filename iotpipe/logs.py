"""Logging helpers shared by the services."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RepeatsDropped"]


class RepeatsDropped(logging.Filter):
    """Let a message through at most once per ``interval`` seconds.

    librdkafka retries an unreachable broker every few hundred milliseconds and reports
    each failure: a stopped Kafka would fill the log with the same line, many times a
    second per process. The first is kept; repeats within the interval are dropped."""

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        text, now = record.getMessage(), time.monotonic()
        with self._lock:
            last = self._last.get(text)
            if last is not None and now - last < self.interval:
                return False
            if len(self._last) > 1024:  # messages naming changing things: forget the old
                self._last.clear()
            self._last[text] = now
        return True
