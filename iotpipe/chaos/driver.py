"""The load driver: devices streaming readings with known event ids over HTTP, in a
thread of its own (one asyncio loop) while the scenario breaks things.

Two uses, one after the other, on one client:

- :meth:`LoadDriver.burst`: as fast as it goes, ``concurrency`` batches in flight at all
  times, for a few seconds (the peak probe, :mod:`iotpipe.chaos.peak`);
- :meth:`LoadDriver.start`: a steady stream at ``rate`` readings/s, open loop on readings:
  each device measures at its share of the rate whatever the server does, and sends what
  it holds, one request in flight per device. Most devices post batches; a few post
  single readings (and a batch of their backlog when more than a few wait, as a device
  that was offline does). A slow or failing server shows as larger requests and retries,
  never as less load offered.

Each request goes to one of the scenario's ingest replicas, the next in rotation that
takes it (:class:`~iotpipe.chaos.targets.Targets`; one replica in most scenarios); while
none does (a rollout's clients hold readings only a new replica knows), it waits.

Every answer is recorded in the :class:`~iotpipe.chaos.ledger.Ledger`. A failed reading
(5xx, 429, no answer) is queued again with the same event_id and sent after the server's
Retry-After (1 s without one), as a well-behaved device retries; ``finish`` keeps
retrying until none is left or its deadline passes. A share of readings is invalid on
purpose (latitude 123) and must be rejected.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import orjson

from iotpipe.chaos.ledger import Ledger
from iotpipe.chaos.targets import Replica, Targets

__all__ = ["BAD_SHARE", "LoadDriver", "Stream", "reading", "stream_shape"]

BAD_SHARE = 0.03  # readings made invalid on purpose (latitude 123): must be rejected
MAX_BATCH = 1000  # readings per request at most (ingest takes up to 5,000)
SINGLE_BACKLOG = 3  # a single-reading device with more waiting sends them as a batch
_T = TypeVar("_T")


def reading(device: str, *, bad: bool, rng: random.Random) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "sensor_id": "temp",
        "sensor_kind": "TEMPERATURE",
        "value": round(rng.uniform(-10, 30), 2),
        "unit": "Cel",
        "event_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "location": {"latitude": 123.0 if bad else 51.96, "longitude": 7.62},
    }


def _is_bad(r: dict[str, Any]) -> bool:
    return bool(r["location"]["latitude"] > 90)


@dataclass(frozen=True)
class Stream:
    """How a steady rate is split: devices posting batches and devices posting singles."""

    rate: float  # readings/s over all devices
    batch_devices: int
    single_devices: int
    single_rate: float  # readings/s over the single-reading devices
    interval: float  # seconds between two batches of one device

    @property
    def batch_rate(self) -> float:
        return self.rate - self.single_rate


def stream_shape(rate: float, devices: int) -> Stream:
    """Mostly batches: a twentieth of the readings (at most 200 req/s) posted one by one,
    the rest in batches of ~100 or more, at most 20 a second per device."""
    if rate <= 0:
        raise ValueError(f"the rate must be positive, not {rate}")
    if devices < 2:
        raise ValueError(f"a stream needs at least 2 devices, not {devices}")
    single_devices = max(1, devices // 4)
    batch_devices = devices - single_devices
    single_rate = min(rate * 0.05, 200.0)
    per_device = (rate - single_rate) / batch_devices
    interval = min(1.0, max(0.05, 100 / per_device))
    return Stream(rate, batch_devices, single_devices, single_rate, interval)


@dataclass
class _Device:
    name: str
    key: str
    rng: random.Random
    rate: float = 0.0  # readings/s while streaming
    batch: bool = True
    owed: float = 0.0  # fresh readings due but not made yet (fractions carry over)
    pending: list[dict[str, Any]] = field(default_factory=list)  # made, not sent yet
    retry: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (not before, r)


class LoadDriver:
    """``burst`` (optional), ``start(rate)``, then ``finish(deadline)``."""

    def __init__(self, targets: Targets, keys: dict[str, str]) -> None:
        if len(keys) < 2:
            raise ValueError("the driver needs at least 2 device keys")
        self.ledger = Ledger()
        self.stream: Stream | None = None
        self.targets = targets
        self._devices = [
            _Device(name, key, random.Random(name))  # noqa: S311 - load, not crypto
            for name, key in sorted(keys.items())
        ]
        self._streaming = threading.Event()
        self._drain_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-driver")
        self._thread.daemon = True
        self._thread.start()
        self._http: httpx.AsyncClient = self._call(self._client(), 30)
        self._lanes: Future[None] | None = None

    # -- from the scenario's thread ------------------------------------------------------
    def burst(self, seconds: float, *, concurrency: int = 12, batch: int = 250) -> float:
        """Batches of valid readings back to back for ``seconds``; readings acknowledged
        per second."""
        began = time.monotonic()
        before = self.ledger.acknowledged_count
        self._call(self._burst(began + seconds, concurrency, batch), seconds + 120)
        return (self.ledger.acknowledged_count - before) / (time.monotonic() - began)

    def start(self, rate: float) -> LoadDriver:
        """Stream ``rate`` readings/s until :meth:`finish`."""
        self.stream = shape = stream_shape(rate, len(self._devices))
        for i, device in enumerate(self._devices):
            device.batch = i >= shape.single_devices
            device.rate = (
                shape.batch_rate / shape.batch_devices
                if device.batch
                else shape.single_rate / shape.single_devices
            )
        self._streaming.set()
        self._lanes = asyncio.run_coroutine_threadsafe(self._stream(), self._loop)
        return self

    def wait_acknowledged(self, count: int, timeout: float = 60) -> bool:
        """Until ``count`` more readings are acknowledged (the pipeline is flowing)."""
        target = self.ledger.acknowledged_count + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ledger.acknowledged_count >= target:
                return True
            time.sleep(0.1)
        return False

    def finish(self, drain_seconds: float = 90) -> Ledger:
        """Stop making new readings; send and retry what is left until none is (or time)."""
        self._drain_until = time.monotonic() + drain_seconds
        self._streaming.clear()
        try:
            if self._lanes is not None:
                self._lanes.result(drain_seconds + 60)
        finally:
            self.close()
        return self.ledger

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._call(self._http.aclose(), 30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- the driver's loop ---------------------------------------------------------------
    async def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        return httpx.AsyncClient(timeout=60, limits=limits)

    async def _burst(self, until: float, concurrency: int, batch: int) -> None:
        async def lane(device: _Device) -> None:
            while time.monotonic() < until:
                readings = [reading(device.name, bad=False, rng=device.rng) for _ in range(batch)]
                await self._send(device, "/v1/readings/batch", readings)

        devices = self._devices
        await asyncio.gather(*(lane(devices[i % len(devices)]) for i in range(concurrency)))
        # Readings the burst could not place are retried by the stream (or by finish).

    async def _stream(self) -> None:
        began = time.monotonic()
        await asyncio.gather(*(self._device(d, began) for d in self._devices))

    async def _device(self, device: _Device, began: float) -> None:
        assert self.stream is not None  # noqa: S101 - set by start()
        interval = self.stream.interval if device.batch else 1 / max(device.rate, 0.1)
        last = began + device.rng.uniform(0, interval)  # devices out of step
        await asyncio.sleep(max(0.0, last - time.monotonic()))
        while True:
            now = time.monotonic()
            if self._streaming.is_set():
                device.owed += device.rate * (now - last)
                fresh, device.owed = int(device.owed), device.owed % 1
                for _ in range(fresh):
                    device.pending.append(
                        reading(device.name, bad=device.rng.random() < BAD_SHARE, rng=device.rng)
                    )
            elif (not device.retry and not device.pending) or now > self._drain_until:
                return
            last = now
            due = [r for t, r in device.retry if t <= now]
            if due:
                device.retry = [(t, r) for t, r in device.retry if t > now]
                device.pending[:0] = due
            readings, device.pending = device.pending[:MAX_BATCH], device.pending[MAX_BATCH:]
            if len(readings) > SINGLE_BACKLOG or (device.batch and readings):
                await self._send(device, "/v1/readings/batch", readings)
            elif readings:
                await asyncio.gather(*(self._send(device, "/v1/readings", [r]) for r in readings))
            if not device.pending:
                await asyncio.sleep(max(0.0, last + interval - time.monotonic()))

    async def _send(self, device: _Device, path: str, readings: list[dict[str, Any]]) -> None:
        """One request to the replica the targets pick, once one takes these readings."""
        fresh = [self.ledger.sent(r["event_id"], bad=_is_bad(r)) for r in readings]
        replica = self.targets.route(readings, fresh)
        while replica is None:
            await asyncio.sleep(0.05)
            replica = self.targets.route(readings, fresh)
        try:
            await self._post(replica, device, path, readings)
        finally:
            self.targets.done(replica)

    async def _post(
        self, replica: Replica, device: _Device, path: str, readings: list[dict[str, Any]]
    ) -> None:
        body = orjson.dumps(readings if path.endswith("/batch") else readings[0])
        headers = {"Authorization": f"Bearer {device.key}", "Content-Type": "application/json"}
        sent = time.monotonic()
        try:
            response = await self._http.post(replica.url + path, content=body, headers=headers)
        except httpx.HTTPError:
            self.ledger.answer(0, retry_after=False, seconds=time.monotonic() - sent)
            self._again(device, readings, 1.0)
            return
        retry_after = response.headers.get("Retry-After")
        status = response.status_code
        deliberate = 400 <= status < 500 and status != 429 and all(map(_is_bad, readings))
        self.ledger.answer(
            status,
            retry_after=retry_after is not None,
            seconds=time.monotonic() - sent,
            deliberate=deliberate,
        )
        wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = {}
        results = payload.get("results") if isinstance(payload, dict) else None
        if isinstance(results, list) and len(results) == len(readings):
            outcomes = [(r.get("status"), _code(r)) for r in results]
        else:
            outcomes = [(_status_of(status), _code(payload))] * len(readings)
        for r, (outcome, code) in zip(readings, outcomes, strict=True):
            if outcome == "accepted":
                self.ledger.settle(r["event_id"], "acknowledged", by=replica.version)
            elif outcome == "rejected":
                self.ledger.settle(r["event_id"], "rejected", code)
            else:
                self.ledger.settle(r["event_id"], "failed")
                self._again(device, [r], wait)

    def _again(self, device: _Device, readings: list[dict[str, Any]], wait: float) -> None:
        not_before = time.monotonic() + min(wait, 10.0)
        device.retry.extend((not_before, r) for r in readings)


def _status_of(code: int) -> str:
    if 200 <= code < 300:
        return "accepted"
    if 400 <= code < 500 and code != 429:
        return "rejected"
    return "failed"


def _code(result: Any) -> str:
    if not isinstance(result, dict):
        return "unknown"
    errors = result.get("errors") or []
    if errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", "unknown"))
    return str(result.get("title", "unknown"))
