"""Run the whole pipeline on the local stack and watch it: the README's first command.

Brings the stack up, registers the schemas, starts ingest and sink as processes, lets a
simulated fleet post readings (HTTP batch, single, WebSocket), shows a live view, and at
the end (``--duration`` or Ctrl-C) drains, prints a summary and checks that every
acknowledged reading is stored: exit 1 if one is missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from rich.live import Live
from rich.table import Table

from ingest.auth.keys import KeyStore
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.demo.fleet import FleetStats, make_fleet, run_device
from iotpipe.demo.view import LOG_SECONDS, Meter, live_view, log_line
from iotpipe.processes import free_port, wait_http, wait_sink_assigned
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings
from iotpipe.terminal import make_console
from sink.settings import SinkSettings

__all__ = ["run_demo"]

console = make_console()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "iotpipe", *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _sink_figures(metrics_url: str) -> tuple[int, int]:
    """Documents the sink has stored (readings) and its consumer lag, from its metrics:
    counting the readings in the database every second would have the database scan
    the collection (FerretDB pushes no such filter down), beside the sink's writes."""
    try:
        text = httpx.get(metrics_url, timeout=1).text
    except httpx.HTTPError:
        return -1, -1
    stored = lag = 0.0
    for line in text.splitlines():
        if line.startswith('iotpipe_sink_written_total{collection="readings"}'):
            stored = float(line.rsplit(" ", 1)[1])
        elif line.startswith("iotpipe_sink_consumer_lag{"):
            lag += float(line.rsplit(" ", 1)[1])
    return int(stored), int(lag)


async def _simulate(
    base_url: str,
    keys: dict[str, str],
    *,
    stats: FleetStats,
    duration: float | None,
    interval: float,
    metrics_url: str,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(
            run_device(d, base_url, stats=stats, stop=stop, interval=interval, bad_share=0.01)
        )
        for d in make_fleet(keys)
    ]
    began = time.monotonic()
    meter = Meter(began)
    live = Live(console=console, refresh_per_second=4) if console.is_terminal else None
    logged = 0.0
    with live or nullcontext():
        while not stop.is_set():
            await asyncio.sleep(1.0)
            now = time.monotonic()
            elapsed = now - began
            failed = [t for t in tasks if t.done() and t.exception() is not None]
            if failed:
                stop.set()
                console.print(f"[red]a device stopped: {failed[0].exception()!r}[/]")
            if _ends(duration, elapsed):
                stop.set()
            if live is None and elapsed - logged < LOG_SECONDS and not stop.is_set():
                continue  # off a terminal: a line every LOG_SECONDS, and the last one
            stored, lag = await asyncio.to_thread(_sink_figures, metrics_url)
            snapshot = meter.snapshot(
                now,
                sent=stats.sent,
                acknowledged=stats.acknowledged,
                rejected=stats.rejected,
                stored=stored,
                lag=lag,
            )
            if live is not None:
                live.update(live_view(snapshot, stats.last_value, height=console.height))
            else:
                logged = elapsed
                console.print(log_line(snapshot), markup=False, highlight=False, soft_wrap=True)
    await asyncio.gather(*tasks, return_exceptions=True)


def _ends(duration: float | None, elapsed: float) -> bool:
    return duration is not None and elapsed >= duration


def run_demo(*, duration: float | None, devices: int, interval: float) -> int:
    stack = Stack(StackSettings(), console=make_console(stderr=True))
    endpoints = stack.up().endpoints()
    # The topic and database ingest and the sink take from the environment (the demo's
    # test gives them ones of its own; a user has the defaults).
    topic, database = IngestSettings().topic, SinkSettings().database
    SchemaRegistry(endpoints["registry"]).push(Contract.load().on_topic(topic))
    workdir = stack.state_dir.parent / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "keys.json").unlink(missing_ok=True)
    store = KeyStore(workdir / "keys.json")
    keys = {
        f"sensebox-demo-{i:02d}": store.create(f"sensebox-demo-{i:02d}")[1] for i in range(devices)
    }
    port, health = free_port(8000), free_port(9108)
    env = {
        **os.environ,
        "IOTPIPE_INGEST_KEYS_FILE": str(workdir / "keys.json"),
        "IOTPIPE_SINK_HEALTH_PORT": str(health),
    }
    ingest = _start(["ingest", "--port", str(port)], env, workdir / "ingest.log")
    sink = _start(["sink"], env, workdir / "sink.log")
    base_url = f"http://127.0.0.1:{port}"
    mongo: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"], tz_aware=True)
    readings = mongo[database]["readings"]
    try:
        wait_http(f"{base_url}/readyz", ingest, workdir / "ingest.log")
        wait_http(f"http://127.0.0.1:{health}/healthz", sink, workdir / "sink.log")
        if not wait_sink_assigned(f"http://127.0.0.1:{health}/healthz"):
            console.print("[yellow]the sink holds no partitions yet; starting anyway[/]")
        console.print(
            f"ingest on {base_url} (docs: {base_url}/docs), sink health on :{health}; "
            f"{devices} devices posting every {interval:g}s - Ctrl-C to stop"
        )
        stats = FleetStats()
        asyncio.run(
            _simulate(
                base_url,
                keys,
                stats=stats,
                duration=duration,
                interval=interval,
                metrics_url=f"http://127.0.0.1:{health}/metrics",
            )
        )
        return _summary(stats, readings)
    finally:
        for process in (ingest, sink):
            process.send_signal(signal.SIGTERM)
        for process in (ingest, sink):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        mongo.close()


def _summary(stats: FleetStats, readings: Any) -> int:
    ids = list(stats.sent_at)
    found: dict[str, datetime] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # drain: wait until every acknowledged one is stored
        missing = [i for i in ids if i not in found]
        for start in range(0, len(missing), 2000):
            for doc in readings.find(
                {"event_id": {"$in": missing[start : start + 2000]}},
                {"event_id": 1, "stored_time": 1},
            ):
                found[doc["event_id"]] = doc["stored_time"]
        if len(found) == len(ids):
            break
        time.sleep(0.5)
    latencies = sorted((found[i].timestamp() - stats.sent_at[i]) * 1000 for i in found)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = (
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan")
    )
    table = Table(
        "sent",
        "acknowledged",
        "stored",
        "rejected",
        "failed",
        "e2e p50",
        "e2e p99",
        title="demo summary",
        title_justify="left",
    )
    table.add_row(
        str(stats.sent),
        str(stats.acknowledged),
        str(len(found)),
        str(stats.rejected),
        str(stats.failed),
        f"{p50:.0f} ms",
        f"{p99:.0f} ms",
    )
    console.print(table)
    missing_count = len(ids) - len(found)
    if missing_count:
        console.print(f"[red]{missing_count} acknowledged readings are missing from MongoDB[/]")
        return 1
    console.print("[green]every acknowledged reading is stored exactly once[/]")
    return 0
