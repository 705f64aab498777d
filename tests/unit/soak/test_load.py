"""The paced load counts what it sent and how each request ended (httpx's mock transport,
no network). The rate itself is not asserted: no timed assertions in tests."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import httpx
import pytest

from iotpipe.soak.load import LoadCounts, PacedLoad


def test_errors_are_non_2xx_failed_and_skipped() -> None:
    counts = LoadCounts(
        sent=10, statuses={202: 6, 503: 2, 401: 1}, failed=1, skipped=4, cpu_seconds=0.0
    )
    assert counts.errors == 8


def run_until(load: PacedLoad, sent: int) -> LoadCounts:
    load.start()
    deadline = time.monotonic() + 30
    while load.counts().sent < sent and time.monotonic() < deadline:
        time.sleep(0.01)
    return load.stop()


def test_every_request_is_counted_by_outcome() -> None:
    outcomes = itertools.cycle([202, 202, 503, 0])  # 0: no answer
    lock = threading.Lock()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            seen.append(request)
            outcome = next(outcomes)
        if outcome == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(outcome)

    load = PacedLoad(
        "http://ingest.test/v1/readings/batch", b"[]", key="secret",
        requests_per_s=500, transport=httpx.MockTransport(answer),
    )  # fmt: skip
    counts = run_until(load, 40)
    assert counts.sent >= 40
    assert sum(counts.statuses.values()) + counts.failed == counts.sent == len(seen)
    assert counts.statuses[503] + counts.failed == counts.errors
    assert counts.failed > 0
    assert counts.skipped == 0
    assert {r.headers["Authorization"] for r in seen} == {"Bearer secret"}
    assert {r.content for r in seen} == {b"[]"}
    latencies = load.take_latencies_ms()
    assert len(latencies) == sum(counts.statuses.values())  # answered ones only
    assert all(ms >= 0 for ms in latencies)
    assert load.take_latencies_ms() == []


def test_requests_due_while_too_many_are_pending_are_skipped_not_dropped() -> None:
    release = threading.Event()
    in_flight = {"now": 0, "most": 0}

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
            while not release.is_set():
                await asyncio.sleep(0.01)
            in_flight["now"] -= 1
            return httpx.Response(202)

    load = PacedLoad(
        "http://ingest.test/", b"{}", key="k", requests_per_s=500, max_in_flight=3,
        transport=Slow(),
    )  # fmt: skip
    load.start()
    deadline = time.monotonic() + 30
    while load.counts().skipped < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    counts = load.stop()
    assert counts.skipped >= 5
    assert in_flight["most"] == 3
    assert counts.statuses == {202: counts.sent}
    assert counts.errors == counts.skipped


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        PacedLoad("http://ingest.test/", b"{}", key="k", requests_per_s=rate)
