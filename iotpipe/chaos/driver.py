"""The load driver: devices streaming readings with known event ids over HTTP (batch and
single), in a thread of its own while the scenario breaks things.

Every answer is recorded in the :class:`~iotpipe.chaos.ledger.Ledger`. A failed reading
(5xx, 429, no answer) is queued again with the same event_id and sent after the server's
Retry-After (1 s without one), the way a well-behaved device retries; ``finish`` keeps
retrying until none is left or its deadline passes.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from iotpipe.chaos.ledger import Ledger

__all__ = ["LoadDriver", "reading"]

BAD_SHARE = 0.03  # readings made invalid on purpose (latitude 123): must be rejected
BATCH = 10


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


@dataclass
class _Device:
    name: str
    key: str
    batch: bool
    retry: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (not before, r)


class LoadDriver:
    """Start with ``start()``; ``finish(deadline)`` stops new readings and drains retries."""

    def __init__(self, base_url: str, keys: dict[str, str], *, interval: float = 0.2) -> None:
        self.ledger = Ledger()
        self._base_url = base_url
        self._interval = interval
        self._devices = [
            _Device(name, key, batch=i % 2 == 0)
            for i, (name, key) in enumerate(sorted(keys.items()))
        ]
        self._streaming = threading.Event()
        self._done = threading.Event()
        self._drain_until = 0.0
        self._thread = threading.Thread(target=self._run, name="chaos-driver", daemon=True)
        self._error: BaseException | None = None

    def start(self) -> LoadDriver:
        self._streaming.set()
        self._thread.start()
        return self

    def wait_acknowledged(self, count: int, timeout: float = 60) -> bool:
        """Until ``count`` readings are acknowledged (the pipeline is flowing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.ledger.acked_at) >= count:
                return True
            time.sleep(0.1)
        return False

    def finish(self, drain_seconds: float = 90) -> Ledger:
        """Stop sending new readings; retry the failed ones until none is left (or time)."""
        self._drain_until = time.monotonic() + drain_seconds
        self._streaming.clear()
        self._thread.join(drain_seconds + 60)
        if self._error is not None:
            raise self._error
        return self.ledger

    # -- the driver's thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._error = exc

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=len(self._devices) * 2)
        async with httpx.AsyncClient(base_url=self._base_url, timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._device(http, d) for d in self._devices))

    async def _device(self, http: httpx.AsyncClient, device: _Device) -> None:
        rng = random.Random(device.name)  # noqa: S311 - load, not crypto
        while True:
            now = time.monotonic()
            due = [r for t, r in device.retry if t <= now]
            device.retry = [(t, r) for t, r in device.retry if t > now]
            fresh = []
            if self._streaming.is_set():
                count = BATCH if device.batch else 1
                fresh = [reading(device.name, bad=rng.random() < BAD_SHARE, rng=rng)
                         for _ in range(count)]  # fmt: skip
                for r in fresh:
                    self.ledger.sent(r["event_id"], bad=r["location"]["latitude"] > 90)
            elif (not device.retry and not due) or now > self._drain_until:
                return
            for r in due:
                self.ledger.sent(r["event_id"], bad=r["location"]["latitude"] > 90)
            await self._send(http, device, due + fresh)
            await asyncio.sleep(self._interval * rng.uniform(0.5, 1.5))

    async def _send(
        self, http: httpx.AsyncClient, device: _Device, readings: list[dict[str, Any]]
    ) -> None:
        if not readings:
            return
        headers = {"Authorization": f"Bearer {device.key}"}
        if device.batch:
            await self._post(http, device, "/v1/readings/batch", readings, headers)
        else:
            for r in readings:
                await self._post(http, device, "/v1/readings", [r], headers)

    async def _post(
        self,
        http: httpx.AsyncClient,
        device: _Device,
        path: str,
        readings: list[dict[str, Any]],
        headers: dict[str, str],
    ) -> None:
        body: Any = readings if path.endswith("/batch") else readings[0]
        try:
            response = await http.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            self.ledger.answer(0, retry_after=False)
            self._again(device, readings, 1.0)
            return
        retry_after = response.headers.get("Retry-After")
        self.ledger.answer(response.status_code, retry_after=retry_after is not None)
        wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        results = payload.get("results") if isinstance(payload, dict) else None
        if isinstance(results, list) and len(results) == len(readings):
            outcomes = [(r.get("status"), _code(r)) for r in results]
        else:
            outcomes = [(_status_of(response.status_code), _code(payload))] * len(readings)
        for r, (status, code) in zip(readings, outcomes, strict=True):
            if status == "accepted":
                self.ledger.settle(r["event_id"], "acknowledged")
            elif status == "rejected":
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
