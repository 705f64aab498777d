"""The paced load counts what it sent and how each request ended (httpx's mock transport,
no network). The rate itself is not asserted: no timed assertions in tests."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from iotpipe.bench.workload import fleet_batch_body
from iotpipe.soak.load import LoadCounts, PacedLoad
from iotpipe.soak.run import SoakPlan, fleet_bodies


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


def test_a_body_factory_makes_each_requests_body_from_its_number() -> None:
    lock = threading.Lock()
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            bodies.append(request.content)
        return httpx.Response(202)

    load = PacedLoad(
        "http://ingest.test/v1/readings/batch", lambda n: b"%d" % n, key="secret",
        requests_per_s=500, transport=httpx.MockTransport(answer),
    )  # fmt: skip
    counts = run_until(load, 20)
    assert sorted(int(b) for b in bodies) == list(range(counts.sent))


def test_the_soak_fleet_takes_turns_and_times_its_readings_now() -> None:
    """Each request: the next devices of the fleet (four sensors each), timed when made;
    the fleet wraps around."""
    first = orjson.loads(fleet_batch_body(20, request=0, devices=12))
    second = orjson.loads(fleet_batch_body(20, request=1, devices=12))
    third = orjson.loads(fleet_batch_body(20, request=2, devices=12))
    assert [r["device_id"] for r in first[::4]] == [f"fleet-{i:05d}" for i in range(5)]
    assert [r["device_id"] for r in second[::4]] == [f"fleet-{i:05d}" for i in range(5, 10)]
    assert [r["device_id"] for r in third[::4]] == [f"fleet-{i:05d}" for i in (10, 11, 0, 1, 2)]
    assert [r["sensor_id"] for r in first[:4]] == ["temp", "hum", "pres", "pm25"]
    sent = datetime.fromisoformat(first[0]["event_time"])
    assert abs(datetime.now(UTC) - sent) < timedelta(seconds=5)
    assert all("event_id" not in r for r in first)  # ingest assigns them


def test_a_body_that_cannot_be_made_counts_as_a_failure() -> None:
    def broken(number: int) -> bytes:
        raise TypeError(f"no body for request {number}")

    load = PacedLoad(
        "http://ingest.test/v1/readings/batch", broken, key="secret",
        requests_per_s=500, transport=httpx.MockTransport(lambda r: httpx.Response(202)),
    )  # fmt: skip
    counts = run_until(load, 5)
    assert counts.failed == counts.sent == counts.errors
    assert load.last_failure.startswith("TypeError: no body for request")


def test_the_soaks_bodies_follow_the_request_number() -> None:
    """The soak's body function, called as PacedLoad calls it (the number, positional)."""
    body = fleet_bodies(SoakPlan(batch=8, devices=1000))
    assert [r["device_id"] for r in orjson.loads(body(3))[::4]] == ["fleet-00006", "fleet-00007"]
