"""Helpers shared by unit and integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from iotpipe.contract.catalog import Contract
from iotpipe.processes import free_port_block, stop

__all__ = ["contract_on", "free_port", "run_cli", "sink_environment", "stop"]


def free_port(span: int = 1) -> int:
    """A loopback port p such that p .. p+span-1 are all free right now."""
    return free_port_block(span)


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
