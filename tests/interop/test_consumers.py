"""Consumers we did not write (Node: kafkajs + @kafkajs/confluent-schema-registry; Go:
franz-go + hamba/avro) read our topic and decode every record exactly as it was sent,
whichever registered version of the SensorReading schema wrote it.

The topic's subject holds three versions: an older one (before quality, metadata and
the location's elevation_m were added), today's (what our real ingest writes, readings
posted over HTTP), and a newer one (a field and a sensor kind today's readers do not
know). Records of the older and newer versions are written by another producer
(fastavro, the Confluent frame with that version's id, no iotpipe header). Each
consumer resolves every record to today's schema; what it prints is compared field by
field with what was sent, along with each record's partition, offset, key and schema id
as Kafka holds them."""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from ingest.auth.keys import KeyStore
from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.interop import Program
from iotpipe.paths import REPO_DIR
from tests.interop.clients import SCHEMA, consume
from tests.interop.readings import EPOCH, as_posted, avro_reading
from tests.scratch import Scratch
from tests.support import contract_on

pytestmark = pytest.mark.timeout(600)  # the first run installs and builds the consumers

DEVICE = "sensebox-interop"  # the ingest key's device
OTHER_DEVICE = "station-7.b:c_d-e"  # written by another producer
DEVICE_EVENT = json.loads(
    (REPO_DIR / "generated/examples/dev.iotpipe.DeviceEvent.json").read_text()
)


@dataclass(frozen=True)
class Stream:
    topic: str
    schema_ids: dict[str, int]  # version name -> its id in the registry
    expected: dict[str, dict[str, Any]]  # event_id -> the reading every consumer prints
    kafka: dict[str, tuple[int, int, str, int]]  # event_id -> partition, offset, key, schema id


def versions() -> dict[str, dict[str, Any]]:
    """The schema's versions in the order registered: older, today's, newer."""
    today = json.loads(SCHEMA.read_text())
    older = copy.deepcopy(today)
    older["fields"] = [f for f in older["fields"] if f["name"] not in {"quality", "metadata"}]
    geo = _field(older, "location")["type"][1]
    geo["fields"] = [f for f in geo["fields"] if f["name"] != "elevation_m"]
    newer = copy.deepcopy(today)
    _field(newer, "sensor_kind")["type"]["symbols"].append("RADIATION")
    newer["fields"].append({"name": "uncertainty", "type": ["null", "double"], "default": None})
    return {"older": older, "today": today, "newer": newer}


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def as_older(reading: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the older version writes of ``reading``, and what today's reader makes of it
    (the fields it lacks at their defaults)."""
    written = {k: v for k, v in reading.items() if k not in {"quality", "metadata"}}
    if written["location"] is not None:
        written["location"] = {k: v for k, v in written["location"].items() if k != "elevation_m"}
    read = {**written, "quality": None, "metadata": {}}
    if read["location"] is not None:
        read["location"] = {**read["location"], "elevation_m": None}
    return written, read


def as_newer(reading: dict[str, Any], i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the newer version writes (a kind today's enum lacks every other time, and a
    field today's schema lacks), and what today's reader makes of it."""
    kind = "RADIATION" if i % 2 == 0 else reading["sensor_kind"]
    written = {**reading, "sensor_kind": kind, "uncertainty": 0.05 * i}
    return written, {**reading, "sensor_kind": "OTHER" if kind == "RADIATION" else kind}


@pytest.fixture(scope="module")
def stream(
    endpoints: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    module_scratch: Scratch,
) -> Stream:
    topic = module_scratch.topic("it-interop", partitions=3)  # removed with its subjects
    ids = register_versions(endpoints["registry"], topic)
    expected: dict[str, dict[str, Any]] = {}
    window = post_through_ingest(endpoints, topic, tmp_path_factory.mktemp("keys"), expected)
    schemas = versions()
    producer = Producer({"bootstrap.servers": endpoints["kafka"], "acks": "all"})
    for i in range(8):
        reading = avro_reading(i, OTHER_DEVICE, ingest_time=None if i % 2 else 1_795_867_201_000)
        version = "older" if i < 4 else "newer"
        written, expected[reading["event_id"]] = (
            as_older(reading) if version == "older" else as_newer(reading, i)
        )
        body = io.BytesIO()
        schemaless_writer(body, parse_schema(schemas[version]), written)
        frame = b"\x00" + ids[version].to_bytes(4, "big")
        producer.produce(topic, key=OTHER_DEVICE.encode(), value=frame + body.getvalue())
    assert producer.flush(30) == 0
    kafka, ingest_times = as_kafka_holds_it(endpoints, topic, ids, len(expected))
    for event_id, ingest_time in ingest_times.items():
        if kafka[event_id][3] == ids["today"]:  # set by ingest, while posting
            assert ingest_time is not None and window[0] <= ingest_time <= window[1]
            expected[event_id] = {**expected[event_id], "ingest_time": ingest_time}
    return Stream(topic, ids, expected, kafka)


def register_versions(registry_url: str, topic: str) -> dict[str, int]:
    """Register the older version, then the contract (today's), then the newer one, under
    the topic's subject (the contract's compatibility rule checks each)."""
    registry = SchemaRegistry(registry_url)
    subject = f"{topic}-dev.iotpipe.SensorReading"
    registry.set_compatibility(subject)
    schemas = versions()
    older = registry.register(subject, json.dumps(schemas["older"]))
    today = next(r for r in registry.push(contract_on(topic)) if r.subject == subject)
    newer = registry.register(subject, json.dumps(schemas["newer"]))
    assert [older.version, today.version, newer.version] == [1, 2, 3]
    return {"older": older.schema_id, "today": today.schema_id, "newer": newer.schema_id}


def post_through_ingest(
    endpoints: dict[str, str], topic: str, keys: Path, expected: dict[str, dict[str, Any]]
) -> tuple[int, int]:
    """Post readings (a batch, a device event, a single reading) to a real ingest on
    ``topic``; each reading goes to ``expected``. Returns the posting window in
    milliseconds since the epoch."""
    keys_file = keys / "keys.json"
    device_key = KeyStore(keys_file).create(DEVICE)[1]
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url=endpoints["registry"],
        topic=topic,
        keys_file=keys_file,
        jobs_topic=f"{topic}-jobs",
        jobs_source_url="http://127.0.0.1:9",
        devices_topic=f"{topic}-devices",
        devices_wait_seconds=1,
        max_age_seconds=100 * 365 * 24 * 3600,  # the readings go back to 1969
    )
    readings = [avro_reading(i, DEVICE) for i in range(9)]
    auth = {"Authorization": f"Bearer {device_key}"}
    started = int(time.time() * 1000)
    with TestClient(build_app(settings)) as client:
        batch = client.post(
            "/v1/readings/batch", json=[as_posted(r) for r in readings[:8]], headers=auth
        )
        assert batch.status_code == 202, batch.text
        # The topic carries device events too: every consumer must pass over them.
        event = {**DEVICE_EVENT, "event_id": str(uuid.uuid4()), "device_id": DEVICE}
        posted = client.post("/v1/device-events", json=event, headers=auth)
        assert posted.status_code == 202, posted.text
        single = client.post("/v1/readings", json=as_posted(readings[8]), headers=auth)
        assert single.status_code == 202, single.text
    for reading in readings:
        expected[reading["event_id"]] = reading
    return started, int(time.time() * 1000) + 1


def as_kafka_holds_it(
    endpoints: dict[str, str], topic: str, ids: dict[str, int], count: int
) -> tuple[dict[str, tuple[int, int, str, int]], dict[str, int | None]]:
    """Every record's partition, offset, key and schema id, and its ingest_time, by
    event id (read with fastavro)."""
    writers = {ids[name]: parse_schema(schema) for name, schema in versions().items()}
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints["kafka"],
            "group.id": f"interop-reference-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: dict[str, tuple[int, int, str, int]] = {}
    ingest_times: dict[str, int | None] = {}
    deadline = time.monotonic() + 30
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            value, key = message.value(), message.key()
            assert value is not None and key is not None
            schema_id = int.from_bytes(value[1:5], "big")
            if schema_id not in writers:
                continue  # the device event
            record = schemaless_reader(io.BytesIO(value[5:]), writers[schema_id], None)
            assert isinstance(record, dict)
            event_id = str(record["event_id"])
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            found[event_id] = (partition, offset, key.decode(), schema_id)
            ingest_time = record["ingest_time"]  # fastavro gives a datetime
            ingest_times[event_id] = None if ingest_time is None else millis(ingest_time)
    finally:
        consumer.close()
    assert len(found) == count
    return found, ingest_times


@pytest.mark.parametrize("language", ["node", "go"])
def test_consumer_reads_every_registered_version_as_sent(
    language: str, stream: Stream, endpoints: dict[str, str], request: pytest.FixtureRequest
) -> None:
    consumer: Program = request.getfixturevalue(f"{language}_consumer")
    lines = consume(consumer, endpoints, stream.topic, len(stream.expected))

    by_id = {line["reading"]["event_id"]: line for line in lines}
    assert len(lines) == len(by_id) == len(stream.expected)  # each record once
    assert by_id.keys() == stream.expected.keys()
    assert {line["schema_id"] for line in lines} == set(stream.schema_ids.values())
    for event_id, line in by_id.items():
        position = (line["partition"], line["offset"], line["key"], line["schema_id"])
        assert position == stream.kafka[event_id], event_id
        reading, expected = line["reading"], stream.expected[event_id]
        assert reading.keys() == expected.keys(), event_id
        for field, value in expected.items():
            # == on floats is exact: a double that came back rounded differs
            assert reading[field] == value, (event_id, field, reading[field], value)


def millis(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
