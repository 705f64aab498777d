"""The Python example of the "Read the stream" page (docs/examples/consume.py) reads a
topic of the contract as an integrator's program would: confluent-kafka alone, the record
type from the writer schema, with and without iotpipe's headers."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import DeviceEvent, SensorReading
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch
from tests.support import contract_on

EXAMPLE = REPO_DIR / "docs/examples/consume.py"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO_DIR / f"generated/examples/{name}.json").read_text())
    data["event_id"] = str(uuid.uuid4())
    data["event_time"] = datetime.now(UTC)
    return data


@pytest.fixture
def topic(scratch: Scratch) -> str:
    return scratch.topic("it-docs", partitions=2, push=True)  # removed with its subjects


@pytest.mark.timeout(180)
def test_the_example_reads_every_record_with_its_type(
    endpoints: dict[str, str], topic: str
) -> None:
    contract = contract_on(topic)
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), contract)
    reading = SensorReading.model_validate(_example("dev.iotpipe.SensorReading"))
    bare = SensorReading.model_validate(_example("dev.iotpipe.SensorReading"))
    event = DeviceEvent.model_validate(_example("dev.iotpipe.DeviceEvent"))
    producer = Producer({"bootstrap.servers": endpoints["kafka"], "acks": "all"})
    for record, headers in ((reading, serde.headers(reading)), (bare, None), (event, None)):
        producer.produce(
            topic,
            key=record.device_id.encode(),
            value=serde.encode(record, topic),
            headers=headers,
        )
    assert producer.flush(30) == 0

    command = [sys.executable, str(EXAMPLE), "--bootstrap", endpoints["kafka"]]
    command += ["--registry", endpoints["registry"], "--topic", topic, "--count", "3"]
    # Generous bounds: a new group's first join can wait on a busy broker, and a consumer
    # closed before its join ends waits for it (a clean CI run once spent 50 s here with
    # no record printed; the same test takes 2 s on a quiet stack).
    done = subprocess.run(
        [*command, "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {line["record"]["event_id"]: line for line in lines}
    assert set(by_id) == {str(reading.event_id), str(bare.event_id), str(event.event_id)}
    assert by_id[str(reading.event_id)]["type"] == "dev.iotpipe.SensorReading"
    assert by_id[str(reading.event_id)]["headers"]["iotpipe-record-type"] == (
        "dev.iotpipe.SensorReading"
    )
    assert by_id[str(bare.event_id)]["type"] == "dev.iotpipe.SensorReading"
    assert by_id[str(bare.event_id)]["headers"] == {}
    assert by_id[str(event.event_id)]["type"] == "dev.iotpipe.DeviceEvent"
    assert by_id[str(event.event_id)]["record"]["kind"] == "HEARTBEAT"
    assert all(line["key"] == "sensebox-5f2b6c9e" for line in lines)
