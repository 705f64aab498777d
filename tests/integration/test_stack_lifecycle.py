"""`iotpipe stack` lifecycle on a second stack beside the session's (own ports, own folder).

Runs the real CLI in child processes, as an operator would: up twice (reused), a killed
service restarted by up, one service down and up by name, data kept across down/up, and
--wipe removing it. Slow: it starts and stops real services several times.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from iotpipe.stack.process import is_alive, read_pidfile
from iotpipe.stack.settings import SERVICES
from tests.support import free_port, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def pids(state: Path) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name in SERVICES:
        record = read_pidfile(state / "run" / f"{name}.pid")
        out[name] = record.pid if record is not None and is_alive(record) else None
    return out


@pytest.fixture
def second_stack(tmp_path: Path, stack_status: object) -> Iterator[dict[str, str]]:
    """Environment for a second stack; the session stack (a fixture) is already up."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PORT")}
    env.update(
        IOTPIPE_STATE_DIR=str(tmp_path / "second"),
        IOTPIPE_KAFKA_PORT=str(free_port(2)),
        IOTPIPE_REGISTRY_PORT=str(free_port(2)),
        IOTPIPE_MONGODB_PORT=str(free_port(1)),
        COLUMNS="200",
    )
    yield env
    run_cli("stack", "down", env=env, timeout=120)


def cli(env: dict[str, str], *args: str) -> str:
    result = run_cli("stack", *args, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_stack_lifecycle(second_stack: dict[str, str]) -> None:
    env = second_stack
    state = Path(env["IOTPIPE_STATE_DIR"])

    cli(env, "up")
    endpoints = json.loads(cli(env, "status", "--json").splitlines()[0])
    assert endpoints["kafka"] == f"127.0.0.1:{env['IOTPIPE_KAFKA_PORT']}"
    first = pids(state)
    assert all(first.values())

    # Reused, not started twice.
    assert "reused" in cli(env, "up")
    assert pids(state) == first

    # Data written now must survive down/up.
    mongo: MongoClient[dict[str, object]] = MongoClient(endpoints["mongodb"])
    mongo.lifecycle.docs.insert_one({"_id": "kept"})
    mongo.close()
    subject_url = f"{endpoints['registry']}/subjects/kept-value/versions"
    schema = {"schema": json.dumps({"type": "record", "name": "K", "fields": []})}
    assert httpx.post(subject_url, json=schema).status_code == 200

    # A service that died is started again by up; the others are reused.
    os.kill(first["mongodb"] or 0, signal.SIGKILL)
    output = cli(env, "up")
    assert "mongodb   started" in output
    assert pids(state)["kafka"] == first["kafka"]

    # One service down and up by name.
    cli(env, "down", "registry")
    assert pids(state)["registry"] is None
    down_status = run_cli("stack", "status", env=env)
    assert down_status.returncode == 3
    cli(env, "up", "registry")
    assert pids(state)["registry"] not in (None, first["registry"])

    # All down: exactly our processes are gone; up again keeps the data.
    stopped = pids(state)
    cli(env, "down")
    assert not any(pids(state).values())
    for pid in stopped.values():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    cli(env, "up")
    mongo = MongoClient(endpoints["mongodb"])
    assert mongo.lifecycle.docs.find_one({"_id": "kept"}) == {"_id": "kept"}
    mongo.close()
    assert httpx.get(f"{endpoints['registry']}/subjects").json() == ["kept-value"]

    # --wipe deletes the data too.
    cli(env, "down", "--wipe")
    assert not (state / "mongodb").exists()
    assert not (state / "stack.json").exists()
