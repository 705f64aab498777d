"""The local stack is the real thing: each service answers its own client library."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from tests.scratch import Scratch


def test_kafka_produce_consume_round_trip(endpoints: dict[str, str], scratch: Scratch) -> None:
    topic = scratch.topic("it-roundtrip", partitions=2)  # and its group, removed after

    producer = Producer(
        {"bootstrap.servers": endpoints["kafka"], "acks": "all", "enable.idempotence": True}
    )
    sent = [(f"device-{i % 3}".encode(), json.dumps({"n": i}).encode()) for i in range(20)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value, headers=[("trace-id", b"t-1")])
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": endpoints["kafka"],
            "group.id": topic,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes | None, bytes | None, object]] = []
    try:
        for _ in range(120):
            msg = consumer.poll(0.5)
            if msg is None:
                if len(received) == len(sent):
                    break
                continue
            error = msg.error()
            assert error is None or error.code() == KafkaError._PARTITION_EOF
            received.append((msg.key(), msg.value(), msg.headers()))
    finally:
        consumer.close()
    assert sorted((k or b"", v or b"") for k, v, _ in received) == sorted(sent)
    assert all(headers == [("trace-id", b"t-1")] for _, _, headers in received)


def test_registry_register_and_fetch_with_confluent_client(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    client = SchemaRegistryClient({"url": endpoints["registry"]})
    subject = scratch.subject(f"{scratch.name('it-probe')}-value")
    record = {
        "type": "record",
        "name": "Probe",
        "namespace": "dev.iotpipe.test",
        "fields": [{"name": "device_id", "type": "string"}, {"name": "value", "type": "double"}],
    }
    schema_id = client.register_schema(subject, Schema(json.dumps(record), "AVRO"))
    fetched = client.get_schema(schema_id)
    assert fetched.schema_str is not None
    assert json.loads(fetched.schema_str) == record
    latest = client.get_latest_version(subject)
    assert latest.schema_id == schema_id
    assert latest.version == 1
    # Not ``subject in client.get_subjects()``: Apicurio lists at most 1,000 subjects per
    # page, and a long-lived local registry holds more (every test run adds some).
    assert client.get_versions(subject) == [1]
    # Registering the same schema again is idempotent: same id, no new version.
    assert client.register_schema(subject, Schema(json.dumps(record), "AVRO")) == schema_id


def test_mongodb_write_read_and_unique_index(endpoints: dict[str, str]) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(
        endpoints["mongodb"], serverSelectionTimeoutMS=5000
    )
    db = client[f"it_{uuid.uuid4().hex[:8]}"]
    try:
        readings = db["readings"]
        readings.create_index("event_id", unique=True)
        readings.insert_one({"event_id": "e-1", "device_id": "d-1", "value": 21.5})
        found = readings.find_one({"event_id": "e-1"}, {"_id": 0})
        assert found == {"event_id": "e-1", "device_id": "d-1", "value": 21.5}
        with pytest.raises(DuplicateKeyError):
            readings.insert_one({"event_id": "e-1", "device_id": "d-1", "value": 0.0})
        assert readings.count_documents({}) == 1
    finally:
        client.drop_database(db.name)
        client.close()


def test_lookups_by_id_use_the_index(endpoints: dict[str, str]) -> None:
    """Updates and deletes find their document by ``_id``: on the local FerretDB that is an
    index search, not a scan of the collection (compose/local/ferretdb/patches.json)."""
    client: MongoClient[dict[str, object]] = MongoClient(
        endpoints["mongodb"], serverSelectionTimeoutMS=5000
    )
    db = client[f"it_{uuid.uuid4().hex[:8]}"]
    try:
        db["rollups"].insert_many([{"_id": f"k{i}", "count": 0} for i in range(50)])
        explained = db.command("explain", {"find": "rollups", "filter": {"_id": "k7"}})
        if "ferretdbVersion" not in explained.get("serverInfo", {}):
            pytest.skip("not FerretDB: MongoDB's own _id index needs no patch")
        plan = " ".join(explained["queryPlanner"]["Plan"])
        assert "SEARCH" in plan and "USING INDEX" in plan, plan
        db["rollups"].update_one({"_id": "k7"}, {"$inc": {"count": 2}})
        assert db["rollups"].find_one({"_id": "k7"}) == {"_id": "k7", "count": 2}
        assert db["rollups"].delete_one({"_id": "k7"}).deleted_count == 1
        assert db["rollups"].count_documents({}) == 49
    finally:
        client.drop_database(db.name)
        client.close()
