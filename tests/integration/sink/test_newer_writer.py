"""A sink not yet upgraded (today's contract) while a newer writer schema rolls out: the
real sink process stores the newer producer's new fields exactly where they were sent,
records of today's producer without them, and dead-letters nothing."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer

from generated.models import SensorReading
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, Contract
from sink.documents import to_document
from tests.integration.sink.conftest import SinkWorld

pytestmark = pytest.mark.timeout(120)

READING = Contract.load().by_name("SensorReading")
CALIBRATION = {
    "type": "record",
    "name": "Calibration",
    "fields": [
        {"name": "lab", "type": "string"},
        {
            "name": "grade",
            "type": {"type": "enum", "name": "CalibrationGrade", "symbols": ["A", "B", "C"]},
        },
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
NEW = ("uncertainty", "calibration")


def newer_schema() -> dict[str, Any]:
    """Today's SensorReading, plus an optional number and an optional nested record (enum
    and timestamp inside), and a sensor kind today's readers do not know."""
    schema: dict[str, Any] = json.loads(READING.schema_str)
    next(f for f in schema["fields"] if f["name"] == "sensor_kind")["type"]["symbols"].append(
        "RADIATION"
    )
    schema["fields"] += [
        {"name": "uncertainty", "type": ["null", "double"], "default": None},
        {"name": "calibration", "type": ["null", CALIBRATION], "default": None},
    ]
    return schema


def extras(i: int) -> dict[str, Any]:
    """What the newer producer sets on its i-th reading (every third: neither field)."""
    if i % 3 == 0:
        return {"uncertainty": None, "calibration": None}
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i, milliseconds=i)
    return {
        "uncertainty": i / 8,
        "calibration": {"lab": f"lab-{i}", "grade": "ABC"[i % 3], "at": at},
    }


def settled(world: SinkWorld, partitions: int, timeout: float = 60) -> list[int]:
    """Once the sink's group has committed the topic's end (it writes dead letters before
    it commits): the dead-letter topic's end offsets."""
    consumer = Consumer({"bootstrap.servers": world.endpoints["kafka"],
                         "group.id": world.env["IOTPIPE_SINK_GROUP_ID"]})  # fmt: skip
    try:
        parts = [TopicPartition(world.topic, p) for p in range(partitions)]
        ends = [consumer.get_watermark_offsets(tp, 10)[1] for tp in parts]
        deadline = time.monotonic() + timeout
        while any(
            end and tp.offset != end
            for tp, end in zip(consumer.committed(parts, 10), ends, strict=True)
        ):  # an empty partition has nothing committed
            assert time.monotonic() < deadline, "the sink did not commit the topic's end"
            time.sleep(0.5)
        dlq = [TopicPartition(f"{world.topic}.dlq", p) for p in range(partitions)]
        return [consumer.get_watermark_offsets(tp, 10)[1] for tp in dlq]
    finally:
        consumer.close()


def test_an_old_sink_stores_a_newer_writers_fields_where_they_were_sent(
    sink_world: SinkWorld, partitions: int
) -> None:
    registry = SchemaRegistryClient({"url": sink_world.endpoints["registry"]})
    schema = newer_schema()  # FULL_TRANSITIVE with today's: the registry takes it
    schema_id = registry.register_schema(
        f"{sink_world.topic}-{READING.fullname}", Schema(json.dumps(schema), "AVRO")
    )
    parsed = parse_schema(schema)
    today = [sink_world.reading(i, "today") for i in range(30)]
    newer = [sink_world.reading(i, "newer") for i in range(30)]
    sink_world.produce(today)
    for i, record in enumerate(newer):
        datum = {**record.model_dump(), **extras(i)}
        if i % 10 == 1:
            datum["sensor_kind"] = "RADIATION"
        body = io.BytesIO()
        schemaless_writer(body, parsed, datum)
        sink_world.producer.produce(
            sink_world.topic,
            key=record.device_id.encode(),
            value=b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue(),
            headers=[(RECORD_TYPE_HEADER, READING.fullname.encode())] if i % 2 else None,
        )
    assert sink_world.producer.flush(30) == 0
    sink_world.start_sink()
    assert sink_world.wait_for(60) == 60

    readings = sink_world.mongo[sink_world.database]["readings"]
    stored = {d["event_id"]: d for d in readings.find({}, {"_id": 0})}
    assert len(stored) == 60
    for record in today:
        document = stored[str(record.event_id)]
        assert not set(NEW) & set(document), document  # today's producer: nothing added
        assert document["sensor_kind"] == record.sensor_kind.value
    for i, record in enumerate(newer):
        document = stored[str(record.event_id)]
        assert {k: document[k] for k in NEW} == extras(i), i  # null where none was sent
        if document["calibration"] is not None:
            assert set(document["calibration"]) == {"lab", "grade", "at"}
            assert isinstance(document["calibration"]["at"], datetime)  # a BSON date
        assert document["sensor_kind"] == ("OTHER" if i % 10 == 1 else "TEMPERATURE")
        sent = to_document(record, partition=0, offset=0, stored=datetime.now(UTC))
        assert {k: v for k, v in document.items() if k not in NEW} == {
            **sent,
            "sensor_kind": document["sensor_kind"],
            "stored_time": document["stored_time"],
            "source": document["source"],
        }
    assert settled(sink_world, partitions) == [0] * partitions  # no dead letter

    rollups = sink_world.mongo[sink_world.database]["readings_1m"]
    deadline = time.monotonic() + 30  # the views follow the writes
    while sum(r["count"] for r in rollups.find()) < 60 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sum(r["count"] for r in rollups.find()) == 60
    status = sink_world.mongo[sink_world.database]["device_status"]
    assert {d["device_id"] for d in status.find({"scope": "device"})} == {"today", "newer"}
    assert SensorReading.model_fields.keys().isdisjoint(NEW)  # today's contract is the old one
