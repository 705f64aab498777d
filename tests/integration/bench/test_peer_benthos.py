"""The Benthos peer against the real stack: built (once; cached afterwards), run, loaded
with wrk for a moment, and what it wrote decodes with the contract's own decoder as the
same readings ingest writes. (No figure is asserted beyond being there.)"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import SensorReading
from iotpipe.bench.peers import PeerContext, benthos
from iotpipe.bench.workload import reading
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.contract.serde import ContractSerde
from iotpipe.processes import free_port
from iotpipe.stack.settings import StackSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the first run builds (~2 min)


@pytest.fixture
def topic(endpoints: dict[str, str]) -> Iterator[str]:
    name = f"it-peer-benthos-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)])[name].result(30)
    contract = Contract.load().on_topic(name)
    registry = SchemaRegistry(endpoints["registry"])
    registry.push(contract)
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result(30)
    for record_type in contract.record_types:
        registry.delete_subject(record_type.subject)


def first_records(kafka: str, topic: str, count: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": kafka, "group.id": f"{topic}-check", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    try:
        while len(found) < count:
            message = consumer.poll(10)
            assert message is not None, f"only {len(found)} records came back from {topic}"
            assert message.error() is None, message.error()
            found.append(message)
    finally:
        consumer.close()
    return found


def test_benthos_peer_writes_the_contracts_records(
    endpoints: dict[str, str], topic: str, tmp_path: Path
) -> None:
    cache = StackSettings().cache_dir.expanduser() / "peers"  # the benchmark's cache
    binary = benthos.build(cache)
    config = tmp_path / "lint.yaml"
    config.write_text(
        benthos.render_config(
            port=4195, topic=topic, kafka=endpoints["kafka"], registry=endpoints["registry"]
        )
    )
    lint = subprocess.run([binary, "lint", config], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    ctx = PeerContext(
        endpoints=endpoints, workdir=tmp_path, cache=cache, seconds=2, connections=4,
        topic=topic, prefilled_topic="", prefill=0, database="",
    )  # fmt: skip
    figures = benthos.measure(ctx)  # refuses a run whose topic lacks what wrk saw accepted
    assert figures["single_rps"] > 0
    assert figures["batch_100_readings_per_s"] > 0
    assert figures["failed_requests"] == 0
    assert figures["delivered"] >= figures["accepted"] * benthos.DELIVERED_SHARE

    serde = ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), Contract.load())
    for message in first_records(endpoints["kafka"], topic, 20):
        headers = message.headers()
        assert isinstance(headers, list)
        assert (RECORD_TYPE_HEADER, b"dev.iotpipe.SensorReading") in headers
        reading = serde.decode(message.value(), headers, topic)
        assert isinstance(reading, SensorReading)
        assert message.key() == reading.device_id.encode()
        assert reading.event_id is not None and reading.ingest_time is not None
        assert reading.sensor_id in {"temp", "hum", "pres", "pm25"}
        assert reading.location is not None and reading.metadata == {"firmware": "bench"}


def test_benthos_peer_keeps_what_a_client_sends_and_refuses_what_it_cannot_encode(
    endpoints: dict[str, str], topic: str, tmp_path: Path
) -> None:
    binary = benthos.build(StackSettings().cache_dir.expanduser() / "peers")
    port = free_port()
    config = tmp_path / "benthos.yaml"
    config.write_text(
        benthos.render_config(
            port=port, topic=topic, kafka=endpoints["kafka"], registry=endpoints["registry"]
        )
    )
    event_id = str(uuid.uuid4())
    full = {
        **reading(0, with_id=False),
        "event_id": event_id,
        "ingest_time": "2001-01-01T00:00:00Z",  # set by the pipeline, not the client
        "quality": "SUSPECT",
        "location": {"latitude": 51.96, "longitude": 7.62, "elevation_m": 60.5},
    }
    url = f"http://127.0.0.1:{port}{benthos.PATH}"
    with benthos.serving(binary, config, tmp_path / "benthos.log", port):
        assert benthos.post_until_served(url, orjson.dumps(full)).status_code == 200
        missing = {k: v for k, v in full.items() if k != "sensor_id"}
        assert httpx.post(url, content=orjson.dumps(missing), timeout=15).status_code == 502
        unknown = {**full, "sensor_kind": "SMELL"}
        assert httpx.post(url, content=orjson.dumps(unknown), timeout=15).status_code == 502
        assert httpx.post(url, content=b"{not json", timeout=15).status_code == 502
    assert benthos.topic_messages(endpoints["kafka"], topic) == 1
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), Contract.load())
    (message,) = first_records(endpoints["kafka"], topic, 1)
    headers = message.headers()
    assert isinstance(headers, list)
    stored = serde.decode(message.value(), headers, topic)
    assert isinstance(stored, SensorReading)
    assert str(stored.event_id) == event_id
    assert stored.quality is not None and stored.quality.value == "SUSPECT"
    assert stored.location is not None and stored.location.elevation_m == 60.5
    assert stored.ingest_time is not None and stored.ingest_time.year >= 2026
    assert stored.event_time.isoformat().startswith(full["event_time"][:19])
