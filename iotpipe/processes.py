"""Helpers for running iotpipe's own services as local processes (demo, benchmark)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from iotpipe.errors import ServiceFailed

__all__ = ["free_port", "free_port_block", "stop", "wait_http", "wait_sink_assigned"]


def stop(process: subprocess.Popen[Any], grace: float = 20) -> None:
    """SIGTERM, wait up to ``grace`` seconds for a clean exit, then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on loopback, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise ServiceFailed("no free port")


def free_port_block(count: int) -> int:
    """A loopback port p such that p .. p+count-1 are all free right now."""
    for _ in range(200):
        first = free_port()
        if first + count <= 65536 and all(free_port(first + i) == first + i for i in range(count)):
            return first
    raise ServiceFailed(f"no {count} consecutive free ports found")


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    """Until ``url`` answers 200; fails naming the log if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceFailed(f"{url} never came up; see {log}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServiceFailed(f"{url} not ready after {timeout:.0f}s; see {log}")


def wait_sink_assigned(health_url: str, timeout: float = 60) -> bool:
    """Until the sink at ``health_url`` (its /healthz) has joined its group and holds
    partitions; False if ``timeout`` passed. It answers /healthz before that: readings
    sent while it prepares the database and joins wait for it (about a second), a
    start-up wait that a latency measured from the first reading would count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(health_url, timeout=1).json().get("assigned_partitions", 0) > 0:
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    return False
