"""The sink against the real stack: exact counts, crashes, poison, database outage."""

from __future__ import annotations

import json
import random
import signal
import threading
import time

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from iotpipe.contract.catalog import Contract
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings
from tests.integration.sink.conftest import SinkWorld
from tests.support import free_port, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def dead_letters(world: SinkWorld) -> list[dict[str, str]]:
    consumer = Consumer(
        {
            "bootstrap.servers": world.endpoints["kafka"],
            "group.id": "dlq-check",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([f"{world.topic}.dlq"])
    found = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            headers = message.headers() or []
            assert isinstance(headers, list)
            found.append({k: v.decode() if isinstance(v, bytes) else "" for k, v in headers})
        elif found:
            break
    consumer.close()
    return found


def test_n_records_make_exactly_n_documents_and_sigterm_exits_cleanly(
    sink_world: SinkWorld,
) -> None:
    records = [sink_world.reading(i, f"dev-{i % 7}") for i in range(700)]
    sink = sink_world.start_sink()
    sink_world.produce(records)
    assert sink_world.wait_for(700) == 700
    sample = sink_world.mongo[sink_world.database]["readings"].find_one(
        {"event_id": str(records[123].event_id)}, {"_id": 0}
    )
    assert sample is not None
    assert (sample["device_id"], sample["value"], sample["unit"]) == (
        f"dev-{123 % 7}",
        123.0,
        "Cel",
    )
    assert sample["event_time"] == records[123].event_time
    rollups = sink_world.mongo[sink_world.database]["readings_1m"]
    deadline = time.monotonic() + 30  # rollups follow the write of each batch
    while sum(r["count"] for r in rollups.find()) < 700 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sum(r["count"] for r in rollups.find()) == 700
    sink.send_signal(signal.SIGTERM)
    assert sink.wait(30) == 0
    # Everything was committed: a new member of the group has nothing left to read.
    consumer = Consumer(
        {
            "bootstrap.servers": sink_world.endpoints["kafka"],
            "group.id": sink_world.env["IOTPIPE_SINK_GROUP_ID"],
        }
    )
    committed = consumer.committed([TopicPartition(sink_world.topic, p) for p in range(3)], 10)
    ends = [consumer.get_watermark_offsets(tp, 10)[1] for tp in committed]
    consumer.close()
    assert [tp.offset for tp in committed] == ends


def test_sigkill_at_random_moments_loses_and_doubles_nothing(sink_world: SinkWorld) -> None:
    total = 3000
    records = [sink_world.reading(i, f"dev-{i % 11}") for i in range(total)]

    def stream() -> None:
        for start in range(0, total, 100):
            sink_world.produce(records[start : start + 100])
            time.sleep(0.05)

    producer = threading.Thread(target=stream)
    producer.start()
    rng = random.Random(7)  # noqa: S311 - test timing, not crypto
    for _ in range(4):
        sink = sink_world.start_sink()
        time.sleep(rng.uniform(1.5, 3.5))
        sink.kill()
        sink.wait(10)
    producer.join()
    sink_world.start_sink()
    assert sink_world.wait_for(total) == total
    time.sleep(2)  # anything still in flight would show up as extra documents
    readings = sink_world.mongo[sink_world.database]["readings"]
    assert readings.count_documents({}) == total
    assert len(readings.distinct("event_id")) == total


def test_poison_message_goes_to_dlq_and_the_rest_lands(sink_world: SinkWorld) -> None:
    good = [sink_world.reading(i) for i in range(20)]
    sink_world.produce(good[:10])
    header: list[tuple[str, str | bytes | None]] = [
        ("iotpipe-record-type", b"dev.iotpipe.SensorReading")
    ]
    real = sink_world.serde.encode(good[0], sink_world.topic)
    foreign = {"type": "record", "name": "Other", "namespace": "com.example", "fields": []}
    foreign_id = SchemaRegistryClient({"url": sink_world.endpoints["registry"]}).register_schema(
        f"{sink_world.topic}-com.example.Other", Schema(json.dumps(foreign), "AVRO")
    )
    poisons: list[tuple[bytes, list[tuple[str, str | bytes | None]]]] = [
        (b"\x00\x7f\xff\xff\xf0junk", header),  # a schema id no registry has
        (real[:12], header),  # truncated: the Avro body ends early
        (b"not even framed", []),  # not the Confluent wire format
        (b"\x00" + foreign_id.to_bytes(4, "big"), []),  # a registered schema, not ours
        (real, [("iotpipe-record-type", b"dev.iotpipe.DeviceEvent")]),  # header disagrees
    ]
    for value, headers in poisons:
        sink_world.producer.produce(sink_world.topic, key=b"dev-1", value=value, headers=headers)
    sink_world.produce(good[10:])
    sink_world.start_sink()
    assert sink_world.wait_for(20) == 20
    letters = dead_letters(sink_world)
    assert sorted(letter["iotpipe-dlq-reason"] for letter in letters) == [
        "record-type-mismatch",
        "undecodable",
        "undecodable",
        "unknown-record-type",
        "unknown-schema",
    ]
    for letter in letters:
        assert letter["iotpipe-dlq-version"] == "1"
        assert letter["iotpipe-dlq-source-topic"] == sink_world.topic
        assert letter["iotpipe-dlq-source-offset"].isdigit()
        assert letter["iotpipe-dlq-attempts"] == "1"
        assert letter["iotpipe-dlq-error-class"] == "DecodeError"

    listed = run_cli("dlq", "list", env=sink_world.env)
    assert listed.returncode == 0, listed.stderr
    assert "unknown-schema" in listed.stdout
    # Replay re-drives only what now decodes (nothing here); --force sends all again,
    # and the sink dead-letters them once more, counting the attempt.
    plain = run_cli("dlq", "replay", env=sink_world.env)
    assert "replayed 0 dead letters" in plain.stderr
    assert "5 still do not decode" in plain.stderr
    forced = run_cli("dlq", "replay", "--force", env=sink_world.env)
    assert "replayed 5 dead letters" in forced.stderr
    deadline = time.monotonic() + 30
    while len(letters := dead_letters(sink_world)) < 10 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sorted(letter["iotpipe-dlq-attempts"] for letter in letters) == ["1"] * 5 + ["2"] * 5
    assert sink_world.stored() == 20


def test_a_plain_confluent_producer_is_stored_like_ours(sink_world: SinkWorld) -> None:
    """An integrator's producer: confluent-kafka's own AvroSerializer on the registered
    SensorReading schema, the Confluent wire format and nothing else (none of our headers).
    The sink takes the record type from the writer schema and stores the readings exactly
    as it stores ours."""
    ours = [sink_world.reading(i, "ours") for i in range(5)]
    theirs = [sink_world.reading(i, "theirs") for i in range(5)]
    serializer = AvroSerializer(
        SchemaRegistryClient({"url": sink_world.endpoints["registry"]}),
        Contract.load().by_name("SensorReading").schema_str,
        conf={
            "subject.name.strategy": topic_record_subject_name_strategy,
            "auto.register.schemas": False,
        },
    )
    for reading in theirs:
        value = serializer(
            reading.model_dump(), SerializationContext(sink_world.topic, MessageField.VALUE)
        )
        sink_world.producer.produce(sink_world.topic, key=reading.device_id.encode(), value=value)
    sink_world.produce(ours)
    sink_world.start_sink()
    assert sink_world.wait_for(10) == 10
    readings = sink_world.mongo[sink_world.database]["readings"]
    mine = {d["value"]: d for d in readings.find({"device_id": "ours"}, {"_id": 0})}
    other = {d["value"]: d for d in readings.find({"device_id": "theirs"}, {"_id": 0})}
    assert sorted(other) == sorted(mine) == [0.0, 1.0, 2.0, 3.0, 4.0]
    varying = {"device_id", "event_id", "stored_time", "ingest_time", "source"}  # source: p:offset
    for value, doc in other.items():
        assert {k: v for k, v in doc.items() if k not in varying} == {
            k: v for k, v in mine[value].items() if k not in varying
        }
    assert dead_letters(sink_world) == []


def test_db_setup_reports_what_the_server_supports(sink_world: SinkWorld) -> None:
    result = run_cli(
        "db",
        "setup",
        "--sink-password",
        "s3cret-sink",
        "--grafana-password",
        "s3cret-graf",
        env=sink_world.env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["iotpipe_sink", "iotpipe_grafana"]
    # FerretDB has no user management; MongoDB creates the users with their roles.
    assert all(("created" in line) or ("no user management" in line) for line in lines)
    assert "s3cret" not in result.stdout + result.stderr


def test_database_outage_mid_stream_loses_nothing(sink_world: SinkWorld) -> None:
    stack = Stack(StackSettings())
    first = [sink_world.reading(i) for i in range(300)]
    second = [sink_world.reading(i) for i in range(300, 600)]
    sink_world.start_sink()
    sink_world.produce(first)
    assert sink_world.wait_for(300) == 300
    stack.down(["mongodb"])
    try:
        sink_world.produce(second)
        time.sleep(4)  # the sink retries against a dead database meanwhile
    finally:
        stack.up(["mongodb"])
    assert sink_world.wait_for(600) == 600


def test_two_sinks_in_one_group_share_the_partitions(sink_world: SinkWorld) -> None:
    ports = [free_port(), free_port()]
    for port in ports:
        sink_world.env["IOTPIPE_SINK_HEALTH_PORT"] = str(port)
        sink_world.start_sink()

    def assignments() -> list[int]:
        found = []
        for port in ports:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            except httpx.HTTPError:
                return []
            found.append(state["assigned_partitions"])
        return sorted(found)

    deadline = time.monotonic() + 45  # the second member joins, the group rebalances
    while assignments() != [1, 2] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert assignments() == [1, 2]  # three partitions, two members
    sink_world.produce([sink_world.reading(i, f"dev-{i % 13}") for i in range(600)])
    assert sink_world.wait_for(600) == 600
    written = 0.0
    for port in ports:
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        line = next(
            x
            for x in metrics.splitlines()
            if x.startswith('iotpipe_sink_written_total{collection="readings"}')
        )
        assert float(line.rsplit(" ", 1)[1]) > 0  # both members stored a share
        written += float(line.rsplit(" ", 1)[1])
    assert written == 600


def test_a_backlog_is_written_back_to_back_and_the_views_still_keep_up(
    sink_world: SinkWorld,
) -> None:
    """Batch writes go first (sink.turns); the views take the moments between them, or a
    turn of their own after waiting a second: they are exact while the sink runs on,
    not only once it stops."""
    total = 4000
    sink_world.produce([sink_world.reading(i, f"dev-{i % 11}") for i in range(total)])
    sink_world.start_sink()
    assert sink_world.wait_for(total) == total
    database = sink_world.mongo[sink_world.database]
    expected = {f"dev-{i}" for i in range(11)}

    def views() -> tuple[int, set[str]]:  # rollups first, then the devices' status
        counted = sum(r["count"] for r in database["readings_1m"].find())
        status = database["device_status"].find({"scope": "device"})
        return counted, {d["device_id"] for d in status}

    deadline = time.monotonic() + 60
    while views() != (total, expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert views() == (total, expected)
