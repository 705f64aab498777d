"""A producer we did not write (Node: kafkajs + @kafkajs/confluent-schema-registry, its
own Avro library) writes readings as an integrator would: the Confluent frame with the
registered schema's id, keyed by device, and no ``iotpipe-record-type`` header. Our real
sink stores each one exactly as it stores the same reading from our own producer, and
dead-letters none."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from iotpipe.interop import Program
from tests.integration.sink.conftest import SinkWorld
from tests.interop.readings import as_model, avro_reading

pytestmark = pytest.mark.timeout(600)  # the first run installs kafkajs

# What differs between two stores of the same reading: the database's id, when and
# from where (partition:offset) the sink stored it, and the reading's own id.
PER_STORE = ("_id", "stored_time", "source", "event_id")


def test_sink_stores_what_a_node_producer_wrote_like_ours(
    node_producer: Program, sink_world: SinkWorld, endpoints: dict[str, str]
) -> None:
    theirs = [
        avro_reading(i, f"node-device-{i % 2}", ingest_time=1_795_867_201_000 if i % 3 else None)
        for i in range(9)
    ]
    ours = [as_model(reading, event_id=str(uuid.uuid4())) for reading in theirs]  # twins
    node_producer.run(
        {
            "brokers": endpoints["kafka"],
            "registry": endpoints["registry"],
            "topic": sink_world.topic,
        },
        stdin="".join(json.dumps(reading) + "\n" for reading in theirs),
    )
    sink_world.produce(ours)
    sink_world.start_sink()

    deadline = time.monotonic() + 60
    while sink_world.stored() < 2 * len(theirs) and time.monotonic() < deadline:
        dead = dead_letters(sink_world, limit=3)
        assert not dead, f"the sink dead-lettered records: {dead}"
        time.sleep(0.5)
    documents = {d["event_id"]: d for d in sink_world.mongo[sink_world.database]["readings"].find()}
    assert len(documents) == 2 * len(theirs)
    for their, our in zip(theirs, ours, strict=True):
        stored, reference = documents[their["event_id"]], documents[str(our.event_id)]
        assert _content(stored) == _content(reference), their
        assert stored["value"] == their["value"]  # exact, and not our producer's doing
    assert dead_letters(sink_world, limit=1) == []


def _content(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in PER_STORE}


def dead_letters(world: SinkWorld, *, limit: int) -> list[dict[str, str]]:
    """The headers of the first ``limit`` records of the world's DLQ (none: [])."""
    consumer = Consumer({"bootstrap.servers": world.endpoints["kafka"], "group.id": "unused"})
    try:
        dlq = f"{world.topic}.dlq"
        partitions = consumer.list_topics(dlq, timeout=10).topics[dlq].partitions
        assigned = []
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(dlq, partition), 10)
            if high > low:
                assigned.append(TopicPartition(dlq, partition, low))
        if not assigned:
            return []
        consumer.assign(assigned)
        found: list[dict[str, str]] = []
        deadline = time.monotonic() + 10
        while len(found) < limit and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                headers = message.headers() or []
                assert isinstance(headers, list)
                found.append(
                    {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in headers}
                )
        return found
    finally:
        consumer.close()
