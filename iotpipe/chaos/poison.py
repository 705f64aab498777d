"""Bad records written straight into the topic (past ingest), and the DLQ counted.

Four kinds, each framed the way a broken or hostile producer would: random bytes, a
valid Avro frame cut short, a valid frame with the wrong magic byte, and a valid body
naming a schema id the registry never issued. Each must land in the DLQ and the
partition must keep flowing.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, datetime

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import SensorReading
from iotpipe.chaos.driver import reading
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, Contract
from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import ServiceFailed

__all__ = ["KINDS", "PoisonProducer", "dead_letters"]

KINDS = ("garbage", "truncated", "wrong-magic", "unknown-schema-id")
UNKNOWN_ID = 2_000_000_000


class PoisonProducer:
    def __init__(self, kafka: str, registry: str, topic: str) -> None:
        self._topic = topic
        contract = Contract.load().on_topic(topic)
        self._serde = ContractSerde(SchemaRegistryClient({"url": registry}), contract)
        self._producer = Producer({"bootstrap.servers": kafka, "acks": "all"})
        self._rng = random.Random(7)  # noqa: S311 - test data
        self.produced: Counter[str] = Counter()

    def _valid_frame(self, device: str) -> bytes:
        record = SensorReading.model_validate(
            {**reading(device, bad=False, rng=self._rng), "event_time": datetime.now(UTC)}
        )
        return self._serde.encode(record, self._topic)

    def frame(self, kind: str, device: str) -> bytes:
        valid = self._valid_frame(device)
        if kind == "garbage":
            return os.urandom(self._rng.randint(1, 64))
        if kind == "truncated":
            return valid[: self._rng.randint(6, len(valid) - 8)]
        if kind == "wrong-magic":
            return b"\x07" + valid[1:]
        if kind == "unknown-schema-id":
            return b"\x00" + UNKNOWN_ID.to_bytes(4, "big") + valid[5:]
        raise ValueError(kind)

    def inject(self, device: str) -> None:
        """One record of each kind, keyed by ``device`` (its partition is a live one)."""
        for kind in KINDS:
            self._producer.produce(
                self._topic,
                key=device.encode(),
                value=self.frame(kind, device),
                headers=[(RECORD_TYPE_HEADER, b"dev.iotpipe.SensorReading")],
            )
            self.produced[kind] += 1
        if self._producer.flush(30):
            raise ServiceFailed("poison records not acknowledged by Kafka within 30 s")


def dead_letters(kafka: str, dlq_topic: str) -> Counter[str]:
    """Every record in the DLQ now, counted by its ``iotpipe-dlq-reason`` header."""
    consumer = Consumer(
        {"bootstrap.servers": kafka, "group.id": "chaos-dlq-count", "enable.auto.commit": False}
    )
    try:
        topic = consumer.list_topics(dlq_topic, timeout=20).topics.get(dlq_topic)
        ends: dict[int, int] = {}
        assigned = []
        for number in topic.partitions if topic is not None else {}:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(dlq_topic, number), timeout=20
            )
            if high > low:
                assigned.append(TopicPartition(dlq_topic, number, low))
                ends[number] = high
        consumer.assign(assigned)
        reasons: Counter[str] = Counter()
        while ends:
            message = consumer.poll(5.0)
            if message is None:
                break
            if message.error() is not None:
                continue
            headers = dict(message.headers() or [])
            reason = headers.get("iotpipe-dlq-reason") or b"?"
            reasons[reason.decode() if isinstance(reason, bytes) else reason] += 1
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
        return reasons
    finally:
        consumer.close()
