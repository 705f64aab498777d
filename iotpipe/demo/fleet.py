"""A simulated fleet of senseBox-like devices that post readings over HTTP and WebSocket.

Each device has a few sensors with plausible values (temperature, humidity, pressure,
PM2.5) drifting slowly; devices use the three ways in: batch, single, WebSocket. A small
share of readings is deliberately out of range, to show rejections.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from websockets.asyncio.client import connect

__all__ = ["Device", "FleetStats", "make_fleet", "run_device"]

SENSORS = [
    ("temp", "TEMPERATURE", "Cel", 12.0, 8.0),
    ("hum", "HUMIDITY", "%", 60.0, 20.0),
    ("pres", "PRESSURE", "hPa", 1013.0, 6.0),
    ("pm25", "PM2_5", "ug/m3", 9.0, 6.0),
]
Mode = Literal["batch", "single", "websocket"]


@dataclass
class FleetStats:
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)  # acknowledged event_id -> send time
    last_value: dict[str, tuple[str, float]] = field(default_factory=dict)


@dataclass
class Device:
    device_id: str
    key: str
    mode: Mode
    latitude: float
    longitude: float
    phase: float

    def readings(self, rng: random.Random, bad_share: float) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        t = time.time() / 60 + self.phase
        out = []
        for sensor_id, kind, unit, mean, swing in SENSORS:
            value = round(mean + swing * math.sin(t) + rng.gauss(0, swing / 10), 2)
            reading = {
                "event_id": str(uuid.uuid4()),
                "device_id": self.device_id,
                "sensor_id": sensor_id,
                "sensor_kind": kind,
                "value": value,
                "unit": unit,
                "event_time": now.isoformat(timespec="milliseconds"),
                "location": {"latitude": self.latitude, "longitude": self.longitude},
            }
            if rng.random() < bad_share:
                reading["location"] = {"latitude": 123.0, "longitude": self.longitude}
            out.append(reading)
        return out


def make_fleet(keys: dict[str, str]) -> list[Device]:
    modes: list[Mode] = ["batch", "single", "websocket"]
    rng = random.Random(42)  # noqa: S311 - simulation, not crypto
    return [
        Device(
            device_id,
            key,
            modes[i % 3],
            round(51.96 + rng.uniform(-0.05, 0.05), 5),
            round(7.62 + rng.uniform(-0.05, 0.05), 5),
            rng.uniform(0, 6),
        )
        for i, (device_id, key) in enumerate(sorted(keys.items()))
    ]


def _tally(
    stats: FleetStats, sent: list[dict[str, Any]], results: list[dict[str, Any]], started: float
) -> None:
    for reading, result in zip(sent, results, strict=False):
        if result["status"] == "accepted":
            stats.acknowledged += 1
            stats.sent_at[reading["event_id"]] = started
            stats.last_value[reading["device_id"]] = (reading["sensor_id"], reading["value"])
        elif result["status"] == "rejected":
            stats.rejected += 1
        else:
            stats.failed += 1


async def _http(
    device: Device, client: httpx.AsyncClient, stats: FleetStats, readings: list[dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {device.key}"}
    started = time.time()
    stats.sent += len(readings)
    if device.mode == "batch":
        response = await client.post("/v1/readings/batch", json=readings, headers=headers)
        body = response.json()
        _tally(stats, readings, body.get("results", []), started)
        return
    for reading in readings:
        response = await client.post("/v1/readings", json=reading, headers=headers)
        status = (
            "accepted"
            if response.status_code == 202
            else ("rejected" if response.status_code in (400, 403, 422) else "failed")
        )
        _tally(stats, [reading], [{"status": status}], started)


async def run_device(
    device: Device,
    base_url: str,
    *,
    stats: FleetStats,
    stop: asyncio.Event,
    interval: float,
    bad_share: float,
) -> None:
    rng = random.Random(device.device_id)  # noqa: S311 - simulation, not crypto
    await asyncio.sleep(rng.uniform(0, interval))
    if device.mode == "websocket":
        url = base_url.replace("http", "ws", 1) + "/v1/stream"
        async with connect(url, additional_headers={"Authorization": f"Bearer {device.key}"}) as ws:
            while not stop.is_set():
                readings = device.readings(rng, bad_share)
                started = time.time()
                stats.sent += len(readings)
                await ws.send(json.dumps(readings))
                reply = json.loads(await ws.recv())
                _tally(stats, readings, reply.get("results", []), started)
                await _sleep(stop, interval)
        return
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            await _http(device, client, stats, device.readings(rng, bad_share))
            await _sleep(stop, interval)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
