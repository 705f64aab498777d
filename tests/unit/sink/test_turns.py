"""Turns on the database within one sink: batch writes first, views in between, never two
at once, and views never starved."""

from __future__ import annotations

import threading
import time

from sink.turns import Turns


class Writes:
    """Who is writing: fails the test if two ever overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.overlaps = 0
        self.log: list[str] = []

    def write(self, who: str, seconds: float) -> None:
        with self.lock:
            self.active += 1
            self.overlaps += self.active > 1
            self.log.append(who)
        time.sleep(seconds)
        with self.lock:
            self.active -= 1


def test_a_batch_write_waits_only_for_the_views_operation_under_way() -> None:
    turns, writes = Turns(), Writes()
    in_view, release = threading.Event(), threading.Event()

    def view() -> None:
        with turns.view():
            in_view.set()
            release.wait(5)
            writes.write("view", 0)

    thread = threading.Thread(target=view)
    thread.start()
    in_view.wait(5)
    threading.Timer(0.05, release.set).start()
    began = time.monotonic()
    with turns.batch():
        waited = time.monotonic() - began
        writes.write("batch", 0)
    thread.join(5)
    assert writes.log == ["view", "batch"]
    assert 0.03 < waited < 1.0


def test_views_wait_while_a_batch_write_runs_or_waits() -> None:
    turns, writes = Turns(patience=10), Writes()
    batch_started = threading.Event()

    def batches() -> None:
        for _ in range(3):
            with turns.batch():
                batch_started.set()
                writes.write("batch", 0.03)

    thread = threading.Thread(target=batches)
    thread.start()
    batch_started.wait(5)
    with turns.view():
        writes.write("view", 0)
    thread.join(5)
    assert writes.overlaps == 0
    assert writes.log[0] == "batch"  # the view went in a gap, after the first batch at least


def test_views_that_waited_their_patience_go_before_the_next_batch() -> None:
    turns, writes = Turns(patience=0.05), Writes()
    stop = threading.Event()

    def back_to_back() -> None:  # a backlog: one batch write right after the other
        while not stop.is_set():
            with turns.batch():
                writes.write("batch", 0.01)

    thread = threading.Thread(target=back_to_back)
    thread.start()
    time.sleep(0.03)
    views_done = 0
    deadline = time.monotonic() + 5
    while views_done < 5 and time.monotonic() < deadline:
        with turns.view():
            writes.write("view", 0.001)
        views_done += 1
    stop.set()
    thread.join(5)
    assert views_done == 5  # none starved
    assert writes.overlaps == 0


def test_never_two_writers_at_once_under_contention() -> None:
    turns, writes = Turns(patience=0.01), Writes()

    def batches() -> None:
        for _ in range(200):
            with turns.batch():
                writes.write("batch", 0.0005)

    def views() -> None:
        for _ in range(200):
            with turns.view():
                writes.write("view", 0.0002)

    threads = [threading.Thread(target=batches), threading.Thread(target=views)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert writes.overlaps == 0
    assert writes.log.count("batch") == writes.log.count("view") == 200
