"""A constant-rate load: batches POSTed on a fixed schedule from a background thread.

The bench's load generator (as wrk) paces a connection by waiting after each response, so
a slower server silently gets less load (closed loop); a soak must hold its rate, so this
is open loop: request k is due at ``start + k * interval`` whatever happened to earlier
ones, and a slow server shows as more requests in flight. ``max_in_flight`` bounds that;
a request that would exceed it is counted as ``skipped`` (a failure of the run, not
silently dropped load). At the soak's rates (tens of requests per second) one asyncio
client uses a few percent of a core; ``cpu_share`` reports it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

__all__ = ["LoadCounts", "PacedLoad"]


@dataclass(frozen=True)
class LoadCounts:
    sent: int  # requests started
    statuses: dict[int, int]  # answered, by status code
    failed: int  # no answer: connect, read or timeout errors
    skipped: int  # due while ``max_in_flight`` were pending
    cpu_seconds: float  # the load thread's CPU

    @property
    def errors(self) -> int:
        """Everything that was not a 2xx answer."""
        non_2xx = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return non_2xx + self.failed + self.skipped


class PacedLoad:
    """POST ``body`` to ``url`` at ``requests_per_s`` until :meth:`stop`; ``body`` may be
    a function of the request's number that makes each request's body."""

    def __init__(
        self,
        url: str,
        body: bytes | Callable[[int], bytes],
        *,
        key: str,
        requests_per_s: float,
        max_in_flight: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        if requests_per_s <= 0:
            raise ValueError(f"requests_per_s must be positive, not {requests_per_s}")
        self._url, self._body, self._interval = url, body, 1 / requests_per_s
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._max_in_flight, self._transport = max_in_flight, transport
        self._statuses: Counter[int] = Counter()
        self._latencies_ms: list[float] = []  # answered requests since the last take
        self._sent = self._failed = self._skipped = 0
        self.last_failure = ""  # why the latest request without an answer had none
        self._cpu = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name="soak-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> LoadCounts:
        """Stop sending, wait for the requests in flight, return the final counts."""
        self._stopping.set()
        self._thread.join(60)
        return self.counts()

    def counts(self) -> LoadCounts:
        """A snapshot (safe from another thread: each field is one atomic read)."""
        return LoadCounts(self._sent, dict(self._statuses), self._failed, self._skipped, self._cpu)

    def take_latencies_ms(self) -> list[float]:
        """Latencies of the requests answered since the last call (swapping the list is one
        atomic assignment, so none is lost to the load thread)."""
        taken, self._latencies_ms = self._latencies_ms, []
        return taken

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _one(self, client: httpx.AsyncClient, number: int) -> None:
        began = time.perf_counter()
        try:
            body = self._body(number) if callable(self._body) else self._body
            response = await client.post(self._url, content=body, headers=self._headers)
        except Exception as exc:  # noqa: BLE001 - every request that got no answer counts
            self._failed += 1
            self.last_failure = f"{type(exc).__name__}: {exc}"
        else:
            self._statuses[response.status_code] += 1
            self._latencies_ms.append((time.perf_counter() - began) * 1000)

    async def _run(self) -> None:
        began_cpu = time.thread_time()
        limits = httpx.Limits(max_connections=self._max_in_flight)
        async with httpx.AsyncClient(
            timeout=30, limits=limits, transport=self._transport
        ) as client:
            pending: set[asyncio.Task[None]] = set()
            start, tick = time.perf_counter(), 0
            while not self._stopping.is_set():
                due = start + tick * self._interval
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                tick += 1
                pending = {t for t in pending if not t.done()}
                if len(pending) >= self._max_in_flight:
                    self._skipped += 1
                    continue
                pending.add(asyncio.create_task(self._one(client, self._sent)))
                self._sent += 1
                self._cpu = time.thread_time() - began_cpu
            await asyncio.gather(*pending)
        self._cpu = time.thread_time() - began_cpu
