"""The services under test, as real processes: ingest, the no-op server, the sink."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from iotpipe.processes import stop, wait_http

__all__ = ["metrics", "serve"]


@contextmanager
def serve(
    args: list[str], env: dict[str, str], log: Path, ready_url: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python <args>`` until the block ends (SIGTERM, then kill)."""
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if ready_url:
            wait_http(ready_url, process, log)
        yield process
    finally:
        stop(process, grace=30)


def metrics(url: str) -> dict[str, float]:
    """Prometheus text to {sample (with labels): value}."""
    found = {}
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found
