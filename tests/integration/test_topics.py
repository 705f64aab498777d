"""``iotpipe topics`` against the real local Kafka, on topics of its own (never sensor-data)."""

from __future__ import annotations

import json
import os

import pytest

from tests.scratch import Scratch
from tests.support import run_cli


@pytest.fixture
def topic(scratch: Scratch) -> str:
    return scratch.topic_name("it-topics")  # made by the commands; removed with its .dlq


def topics(endpoints: dict[str, str], *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"], "COLUMNS": "250"}
    result = run_cli("topics", *args, env=env, timeout=90)
    return result.returncode, result.stdout, " ".join(result.stderr.split())


def listed(endpoints: dict[str, str], topic: str) -> dict[str, dict[str, object]]:
    code, stdout, stderr = topics(endpoints, "list", "--topic", topic, "--json")
    assert code == 0, stderr
    return {str(row["name"]): row for row in json.loads(stdout)}


def test_ensure_creates_both_topics_is_idempotent_and_grows_partitions(
    endpoints: dict[str, str], topic: str
) -> None:
    code, _, stderr = topics(endpoints, "list", "--topic", topic)
    assert code == 1
    assert f"{topic}: does not exist" in stderr

    ensure = ("ensure", "--topic", topic, "--retention-hours", "24")
    code, stdout, stderr = topics(endpoints, *ensure, "--partitions", "2")
    assert code == 0, stderr
    assert f"{topic}: created (2 partitions, replication factor 1" in stdout
    assert f"{topic}.dlq: created (2 partitions" in stdout
    rows = listed(endpoints, topic)
    assert rows[topic] == {
        "name": topic,
        "partitions": 2,
        "replication_factor": 1,
        "min_insync_replicas": "1",
        "retention_hours": 24,
        "cleanup_policy": "delete",
    }
    assert rows[f"{topic}.dlq"]["partitions"] == 2

    code, stdout, stderr = topics(endpoints, *ensure, "--partitions", "2")
    assert code == 0, stderr
    assert stdout.split("\n")[:2] == [
        f"{topic}: already as asked",
        f"{topic}.dlq: already as asked",
    ]

    code, stdout, stderr = topics(
        endpoints, *ensure, "--partitions", "5", "--retention-hours", "48"
    )
    assert code == 0, stderr
    assert f"{topic}: partitions 2 -> 5" in stdout
    assert f"{topic}: retention.ms 86400000 -> 172800000" in stdout
    rows = listed(endpoints, topic)
    assert (rows[topic]["partitions"], rows[topic]["retention_hours"]) == (5, 48)
    assert (rows[f"{topic}.dlq"]["partitions"], rows[f"{topic}.dlq"]["retention_hours"]) == (5, 48)

    code, stdout, stderr = topics(endpoints, *ensure, "--partitions", "3")
    assert code == 0, stderr
    assert f"{topic}: has 5 partitions, more than the 3 asked" in stdout


def test_replication_beyond_the_brokers_is_one_sentence_and_creates_nothing(
    endpoints: dict[str, str], topic: str
) -> None:
    code, _, stderr = topics(
        endpoints, "ensure", "--topic", topic, "--replication-factor", "3",
        "--min-insync-replicas", "2",
    )  # fmt: skip
    assert code == 1
    assert "Traceback" not in stderr
    assert stderr.startswith("error: replication factor 3 needs at least 3 brokers")
    assert "has 1" in stderr
    code, _, _ = topics(endpoints, "list", "--topic", topic)
    assert code == 1  # still missing


def test_unreachable_kafka_is_one_sentence(topic: str) -> None:
    env = {**os.environ, "COLUMNS": "250"}
    result = run_cli(
        "topics", "ensure", "--topic", topic, "--timeout", "3",
        "--kafka-bootstrap-servers", "127.0.0.1:1", env=env,
    )  # fmt: skip
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert "Traceback" not in stderr
    assert stderr.startswith("error: Kafka at 127.0.0.1:1 did not answer within 3 s")
