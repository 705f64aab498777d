"""Rollups and device status off the write path: merged, flushed in the background,
kept while the database refuses, flushed at shutdown."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sink.health import SinkMetrics
from sink.store import StoreUnavailable
from sink.store.memory import MemoryStore
from sink.turns import Turns
from sink.views import ViewUpdater, pause_after

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def doc(i: int, device: str = "a") -> dict[str, Any]:
    return {
        "event_id": f"{device}-{i}",
        "device_id": device,
        "sensor_id": "s",
        "sensor_kind": "TEMPERATURE",
        "unit": "Cel",
        "value": float(i),
        "event_time": T0 + timedelta(seconds=i),
        "stored_time": T0 + timedelta(minutes=5),
        "location": None,  # not needed by the views: left behind
    }


def test_background_flush_counts_every_reading_once() -> None:
    store = MemoryStore()
    views = ViewUpdater(store, SinkMetrics(), flush_seconds=0.05, max_pending=10_000)
    views.start()
    views.add([doc(i) for i in range(30)])
    views.add([doc(i, "b") for i in range(10)])
    deadline = time.monotonic() + 5
    while views.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    views.close()
    assert sum(r["count"] for r in store.rollups.values()) == 40
    assert store.statuses["device|b"]["last_seen"] == T0 + timedelta(seconds=9)


def test_a_refused_flush_keeps_the_readings_for_the_next() -> None:
    store = MemoryStore(down=True)
    views = ViewUpdater(store, SinkMetrics(), flush_seconds=10, max_pending=10_000)
    views.add([doc(i) for i in range(5)])
    assert views.flush() is False
    assert views.pending == 5
    store.down = False
    views.add([doc(5)])
    assert views.flush() is True
    assert views.pending == 0
    assert sum(r["count"] for r in store.rollups.values()) == 6


def test_inline_mode_raises_so_the_runner_retries() -> None:
    views = ViewUpdater(MemoryStore(down=True), SinkMetrics(), flush_seconds=0, max_pending=1000)
    with pytest.raises(StoreUnavailable):
        views.add([doc(0)])
    assert views.pending == 1


def test_close_flushes_what_is_left_and_the_backlog_is_bounded() -> None:
    store = MemoryStore()
    views = ViewUpdater(store, SinkMetrics(), flush_seconds=60, max_pending=1000)
    views.start()
    views.add([doc(i) for i in range(1500)])  # 500 over the bound: the oldest go
    assert views.pending == 1000
    views.close()
    assert views.pending == 0
    assert sum(r["count"] for r in store.rollups.values()) == 1000


def test_views_pause_after_each_operation_to_keep_to_their_share_of_the_database() -> None:
    assert pause_after(0.002, max_db_share=0.05) == pytest.approx(0.038)  # 2 of 40 ms
    assert pause_after(2.0, max_db_share=1.0) == 0.0  # no limit
    took, pause = 0.003, pause_after(0.003, max_db_share=0.25)
    assert took / (took + pause) == pytest.approx(0.25)


def test_a_flush_writes_in_turns_between_batch_writes() -> None:
    """Every database operation of a flush waits while a batch write runs."""
    turns, store = Turns(patience=60), MemoryStore()
    views = ViewUpdater(store, SinkMetrics(), flush_seconds=60, max_pending=1000, turns=turns)
    views.add([doc(i) for i in range(3)])
    flushed = threading.Event()
    with turns.batch():
        threading.Thread(target=lambda: flushed.set() if views.flush() else None).start()
        assert not flushed.wait(0.1)  # held back by the batch write
        assert store.rollups == {}
    assert flushed.wait(5)
    assert sum(r["count"] for r in store.rollups.values()) == 3


def test_flushed_reaches_a_ticket_only_once_its_readings_are_written() -> None:
    """What the runner commits by: a failed flush leaves ``flushed`` behind, and a
    reading handed twice (a replay) is counted once."""
    store = MemoryStore(down=True)
    views = ViewUpdater(store, SinkMetrics(), flush_seconds=60, max_pending=10_000)
    views.add([doc(i) for i in range(10)])
    ticket = views.ticket
    assert (ticket, views.flushed) == (10, 0)
    assert views.flush() is False and views.flushed == 0
    views.add([doc(i) for i in range(5, 15)])  # five of them again
    store.down = False
    assert views.flush() is True
    assert views.flushed == views.ticket == 20
    assert sum(r["count"] for r in store.rollups.values()) == 15
    assert views.flush() is True and views.flushed == 20  # nothing pending: unchanged
