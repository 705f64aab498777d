"""Helpers shared by unit and integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from iotpipe.contract.catalog import Contract
from iotpipe.processes import free_port_block, stop

__all__ = ["QuietLog", "contract_on", "free_port", "run_cli", "serving", "sink_environment", "stop"]


def free_port(span: int = 1) -> int:
    """A loopback port p such that p .. p+span-1 are all free right now."""
    return free_port_block(span)


@contextmanager
def serving(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server of ``handler`` on a free loopback port, on threads of its own, for
    the block: yields its base URL (``http://127.0.0.1:<port>/``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="test-http", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietLog:
    """Mixed into a request handler (before it): logs no request."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``iotpipe ARGS`` as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "iotpipe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env if env is not None else os.environ),
        check=False,
        cwd=Path(__file__).parent,
    )


def contract_on(topic: str) -> Contract:
    """The project's contract with every record type on ``topic`` (tests' own topics)."""
    return Contract.load().on_topic(topic)


def sink_environment(
    endpoints: Mapping[str, str], *, topic: str, group: str, database: str
) -> dict[str, str]:
    """Environment for a real ``iotpipe sink`` process on a test's own topic, group and
    database (no health port)."""
    return {
        **os.environ,
        "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"],
        "IOTPIPE_REGISTRY_URL": endpoints["registry"],
        "IOTPIPE_MONGODB_URI": endpoints["mongodb"],
        "IOTPIPE_SINK_TOPIC": topic,
        "IOTPIPE_SINK_DLQ_TOPIC": f"{topic}.dlq",
        "IOTPIPE_SINK_GROUP_ID": group,
        "IOTPIPE_SINK_DATABASE": database,
        "IOTPIPE_SINK_HEALTH_PORT": "0",
    }
