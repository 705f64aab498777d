"""`iotpipe stack up --brokers 3`: a real three-node KRaft cluster as processes, on its own
state folder and ports, driven through the CLI as an operator would.

It checks what the scale-out promises rest on: the topics come out replicated as
compose/kafka-cluster.env says, `stack status` names each broker and the active
controller, a write with acks=all survives the controller being killed with -9, and the
node comes back by `stack up <node>` until nothing is under-replicated.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from iotpipe.kafka_admin import KafkaTopicAdmin
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings
from iotpipe.topics import cluster_topic_settings
from tests.support import free_port, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTPIPE_")}
    env.update(
        IOTPIPE_STATE_DIR=str(tmp_path / "cluster"),
        IOTPIPE_KAFKA_PORT=str(free_port(6)),
        IOTPIPE_REGISTRY_PORT=str(free_port(2)),
        IOTPIPE_MONGODB_PORT=str(free_port(1)),
        COLUMNS="200",
    )
    yield env
    run_cli("stack", "down", "--wipe", env=env, timeout=180)


def cli(env: dict[str, str], *args: str) -> str:
    result = run_cli("stack", *args, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def produce_acked(bootstrap: str, topic: str, count: int) -> int:
    """Records acknowledged by acks=all (two of three replicas in sync, at least)."""
    acked: list[int] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(count):
        producer.produce(
            topic,
            key=str(i).encode(),
            value=uuid.uuid4().bytes,
            on_delivery=lambda err, _msg: acked.append(0) if err is None else None,
        )
    assert producer.flush(60) == 0
    return len(acked)


def wait_status(env: dict[str, str], text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = " ".join(run_cli("stack", "status", env=env, timeout=60).stdout.split())
        if text in output or time.monotonic() > deadline:
            return output
        time.sleep(2)


def test_three_brokers_replicate_and_survive_the_controller_killed(
    cluster_env: dict[str, str],
) -> None:
    env = cluster_env
    output = cli(env, "up", "kafka", "--brokers", "3")
    for node in ("kafka-1", "kafka-2", "kafka-3"):
        assert f"{node} " in output
    assert "sensor-data: created (6 partitions, replication factor 3" in " ".join(output.split())

    stack = Stack(StackSettings(state_dir=Path(env["IOTPIPE_STATE_DIR"])))
    layout = stack.layout()
    assert layout.brokers == 3
    expected = cluster_topic_settings(3)
    topics = KafkaTopicAdmin(layout.kafka_bootstrap, timeout=30).describe(
        ["sensor-data", "sensor-data.dlq", "iotpipe.devices", "iotpipe.jobs"]
    )
    assert set(topics) == {"sensor-data", "sensor-data.dlq", "iotpipe.devices", "iotpipe.jobs"}
    for state in topics.values():
        assert state.replication_factor == expected.replication_factor == 3
        assert state.configs["min.insync.replicas"] == str(expected.min_insync_replicas) == "2"
    assert topics["sensor-data"].partitions == expected.partitions

    status = wait_status(env, "3 of 3 brokers up")
    assert "3 of 3 brokers up (1, 2, 3)" in status
    assert "0 under-replicated" in status
    cluster = stack.cluster()
    assert cluster.controller in (1, 2, 3)
    assert f"kafka-{cluster.controller} (controller)" in status

    assert produce_acked(layout.kafka_bootstrap, "sensor-data", 200) == 200

    # kill -9 the active controller: another node takes over; writes go on (2 of 3 in sync).
    victim = f"kafka-{cluster.controller}"
    pid = stack.pid(victim)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    status = wait_status(env, "2 of 3 brokers up")
    assert "2 of 3 brokers up" in status
    after = stack.cluster()
    assert after.controller not in (None, cluster.controller)
    assert produce_acked(layout.kafka_bootstrap, "sensor-data", 200) == 200

    # Back by name, on its own data; the replicas catch up.
    cli(env, "up", victim)
    status = wait_status(env, "3 of 3 brokers up", timeout=120)
    assert "3 of 3 brokers up" in status
    status = wait_status(env, " 0 under-replicated", timeout=120)
    assert " 0 under-replicated" in status
    assert stack.cluster().healthy
