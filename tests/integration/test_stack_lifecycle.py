"""`iotpipe stack` lifecycle on a second stack beside the session's (own ports, own folder).

Runs the real CLI in child processes, as an operator would: up twice (reused), a killed
service restarted by up, one service down and up by name, data kept across down/up, and
--wipe removing it. After each up the stack is ready for every command: the pipeline's
topics made and the contract registered, also when up reused a stack that lacked them,
and an up on a ready stack changes neither. Slow: it starts and stops real services
several times.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from iotpipe.contract.catalog import COMPATIBILITY, Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.devices.topic import DEVICES_TOPIC
from iotpipe.kafka_admin import KafkaTopicAdmin
from iotpipe.stack.process import is_alive, read_pidfile
from iotpipe.stack.settings import SERVICES
from iotpipe.topics import (
    TopicSpec,
    cluster_topic_settings,
    devices_topic_spec,
    jobs_topic_spec,
    pipeline_topics,
)
from tests.integration.opensensemap.conftest import boxes_with_token
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


def expected_topics() -> dict[str, TopicSpec]:
    """What `stack up` makes on one broker (compose/kafka-cluster.env's numbers)."""
    numbers = cluster_topic_settings(1)
    factor, insync = numbers.replication_factor, numbers.min_insync_replicas
    specs = [
        *pipeline_topics(
            partitions=numbers.partitions, replication_factor=factor, min_insync_replicas=insync
        ),
        devices_topic_spec(replication_factor=factor, min_insync_replicas=insync),
        jobs_topic_spec(replication_factor=factor, min_insync_replicas=insync),
    ]
    return {spec.name: spec for spec in specs}


def readiness(endpoints: dict[str, str]) -> dict[str, Any]:
    """The pipeline's topics as Kafka describes them and the contract's subjects as the
    registry has them (versions, compatibility, the version holding today's schema)."""
    topics = KafkaTopicAdmin(endpoints["kafka"]).describe(sorted(expected_topics()))
    registry = SchemaRegistry(endpoints["registry"])
    subjects = {
        t.subject: (
            registry.versions(t.subject),
            registry.compatibility(t.subject),
            registry.lookup(t.subject, t.schema_str),
        )
        for t in Contract.load().record_types
    }
    registry.close()
    return {"topics": topics, "subjects": subjects}


def assert_ready(endpoints: dict[str, str]) -> dict[str, Any]:
    ready = readiness(endpoints)
    for name, spec in expected_topics().items():
        state = ready["topics"].get(name)
        assert state is not None, f"{name} missing"
        assert (state.partitions, state.replication_factor) == (
            spec.partitions,
            spec.replication_factor,
        ), name
        assert {k: state.configs.get(k) for k in spec.configs} == dict(spec.configs), name
    for subject, registered in ready["subjects"].items():
        assert registered == ([1], COMPATIBILITY, 1), subject
    return ready


def remove_topic_and_subject(endpoints: dict[str, str]) -> None:
    """What a stack started before `stack up` made topics and subjects looks like."""
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    admin.delete_topics([DEVICES_TOPIC])[DEVICES_TOPIC].result(30)
    deadline = time.monotonic() + 30
    while DEVICES_TOPIC in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{DEVICES_TOPIC} not deleted"
        time.sleep(0.2)
    registry = SchemaRegistry(endpoints["registry"])
    registry.delete_subject(Contract.load().by_name("SensorReading").subject)
    registry.close()


def cli(env: dict[str, str], *args: str) -> str:
    result = run_cli("stack", *args, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_stack_lifecycle(second_stack: dict[str, str], tmp_path: Path) -> None:
    env = second_stack
    state = Path(env["IOTPIPE_STATE_DIR"])

    cli(env, "up")
    endpoints = json.loads(cli(env, "status", "--json").splitlines()[0])
    assert endpoints["kafka"] == f"127.0.0.1:{env['IOTPIPE_KAFKA_PORT']}"
    first = pids(state)
    assert all(first.values())
    assert_ready(endpoints)

    # Reused, not started twice; a running stack without the device registry topic and a
    # subject is made ready (issue 22: `devices import` failed after `stack up`).
    remove_topic_and_subject(endpoints)
    output = cli(env, "up")
    assert "reused" in output
    assert pids(state) == first
    ready = assert_ready(endpoints)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(boxes_with_token("t" * 64)[:1]))
    imported = run_cli("devices", "import", str(boxes), env=env, timeout=120)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    # Up on a ready stack changes nothing.
    output = " ".join(cli(env, "up").split())
    assert readiness(endpoints) == ready
    assert output.count("already as asked") == len(expected_topics()), output
    assert output.count("already registered") == len(ready["subjects"]), output
    assert "created" not in output
    assert "registered as" not in output

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
    subjects = httpx.get(f"{endpoints['registry']}/subjects").json()
    assert sorted(subjects) == sorted(["kept-value", *ready["subjects"]])

    # --wipe deletes the data too.
    cli(env, "down", "--wipe")
    assert not (state / "mongodb").exists()
    assert not (state / "stack.json").exists()
