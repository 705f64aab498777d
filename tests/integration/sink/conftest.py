"""A sink on a topic, DLQ, group and database of its own (removed after the test), run
as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pymongo import MongoClient

from generated.models import SensorReading
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch
from tests.support import contract_on, sink_environment

EXAMPLE = json.loads((REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json").read_text())


@dataclass
class SinkWorld:
    endpoints: dict[str, str]
    topic: str
    database: str
    env: dict[str, str]
    serde: ContractSerde
    producer: Producer
    mongo: MongoClient[dict[str, Any]]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def reading(self, i: int, device: str = "dev-1") -> SensorReading:
        moment = (
            datetime.now(UTC).replace(microsecond=0)
            - timedelta(minutes=5)
            + timedelta(milliseconds=i)
        )
        return SensorReading.model_validate(
            {
                **EXAMPLE,
                "event_id": str(uuid.uuid4()),
                "device_id": device,
                "value": float(i),
                "event_time": moment,
            }
        )

    def produce(self, records: list[SensorReading], spread: int = 0) -> None:
        """Keyed by device; with ``spread``, record i goes to partition i % spread."""
        for i, record in enumerate(records):
            self.producer.produce(
                self.topic,
                key=record.device_id.encode(),
                partition=i % spread if spread else -1,  # -1: the partitioner's choice
                value=self.serde.encode(record, self.topic),
                headers=self.serde.headers(record),
            )
            self.producer.poll(0)
        assert self.producer.flush(30) == 0

    def start_sink(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "iotpipe", "sink"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def stored(self) -> int:
        return self.mongo[self.database]["readings"].count_documents({})

    def wait_for(self, count: int, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (now := self.stored()) >= count:
                return now
            time.sleep(0.5)
        return self.stored()


@pytest.fixture
def partitions() -> int:
    """Partitions of the world's topic (a test parametrizes ``partitions`` for more)."""
    return 3


@pytest.fixture
def sink_world(endpoints: dict[str, str], partitions: int, scratch: Scratch) -> Iterator[SinkWorld]:
    topic = scratch.topic("it-sink", partitions=partitions, dlq=True, push=True)
    contract = contract_on(topic)
    database = scratch.database("it_sink")
    env = {
        **sink_environment(endpoints, topic=topic, group=topic, database=database),
        "IOTPIPE_SINK_BATCH_MAX_SECONDS": "0.2",
        "IOTPIPE_SINK_RETRY_MAX_SECONDS": "2",
        "COLUMNS": "250",
    }
    world = SinkWorld(
        endpoints=endpoints,
        topic=topic,
        database=database,
        env=env,
        serde=ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), contract),
        producer=Producer(
            {
                "bootstrap.servers": endpoints["kafka"],
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
            }
        ),
        mongo=MongoClient(endpoints["mongodb"], tz_aware=True, serverSelectionTimeoutMS=10000),
    )
    yield world
    for process in world.processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    world.mongo.close()
