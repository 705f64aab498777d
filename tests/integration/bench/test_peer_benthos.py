"""The Benthos peer against the real stack: built (once; cached afterwards), run, loaded
with the bench's load generator for a moment (every phase: single, batches of 100 and of
1000, with the key), and what it wrote decodes with the contract's own decoder as the
same readings ingest writes.
A request without the run's key, or with a wrong one, is refused and writes nothing.
(No figure is asserted beyond being there.)"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import SensorReading
from ingest.auth.keys import KeyStore
from iotpipe.bench.peers import PeerContext, benthos
from iotpipe.bench.workload import batch_body, reading, single_body
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, Contract
from iotpipe.contract.serde import ContractSerde
from iotpipe.processes import free_port
from iotpipe.stack.settings import StackSettings
from tests.scratch import Scratch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the first run builds (~2 min)


@pytest.fixture
def topic(scratch: Scratch) -> str:
    return scratch.topic("it-peer-benthos", partitions=6, push=True)  # removed after the test


@pytest.fixture
def keys(tmp_path: Path) -> tuple[KeyStore, str]:
    """The run's key file and the key ingest would be loaded with (as the bench makes it)."""
    store = KeyStore(tmp_path / "keys.json")
    return store, store.create("bench", "admin")[1]


def render(port: int, topic: str, endpoints: dict[str, str], store: KeyStore) -> str:
    return benthos.render_config(
        port=port, topic=topic, kafka=endpoints["kafka"], registry=endpoints["registry"],
        keys=store.list(),
    )  # fmt: skip


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
    endpoints: dict[str, str], topic: str, tmp_path: Path, keys: tuple[KeyStore, str]
) -> None:
    cache = StackSettings().cache_dir.expanduser() / "peers"  # the benchmark's cache
    binary = benthos.build(cache)
    store, key = keys
    config = tmp_path / "lint.yaml"
    config.write_text(render(4195, topic, endpoints, store))
    lint = subprocess.run([binary, "lint", config], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    ctx = PeerContext(
        endpoints=endpoints, workdir=tmp_path, cache=cache, seconds=2, connections=4,
        topic=topic, prefilled_topic="", prefill=0, database="", keys_file=store.path, key=key,
    )  # fmt: skip
    figures = benthos.measure(ctx)  # refuses a run whose topic lacks what wrk saw accepted
    assert figures["single_rps"] > 0
    assert figures["batch_100_readings_per_s"] > 0
    assert figures["batch_1000_readings_per_s"] > 0
    assert figures["failed_requests"] == 0  # every request of every phase had the key
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


def test_benthos_peer_refuses_a_missing_or_wrong_key_and_writes_nothing_of_it(
    endpoints: dict[str, str], topic: str, tmp_path: Path, keys: tuple[KeyStore, str]
) -> None:
    binary = benthos.build(StackSettings().cache_dir.expanduser() / "peers")
    store, key = keys
    key_id, secret = key.removeprefix("iotp_").split("_", 1)
    revoked_entry, revoked = store.create("old", "admin")
    store.revoke(revoked_entry.key_id)
    port = free_port()
    config = tmp_path / "benthos.yaml"
    config.write_text(render(port, topic, endpoints, store))
    refused = {
        "no key": {},
        "wrong secret": {"Authorization": f"Bearer iotp_{key_id}_{'A' * 43}"},
        "unknown key id": {"Authorization": f"Bearer iotp_{'0' * 12}_{secret}"},
        "revoked key": {"Authorization": f"Bearer {revoked}"},
        "not a key": {"Authorization": "Bearer iotp_x"},
        "no Bearer scheme": {"Authorization": key},
        "another scheme": {"Authorization": f"Basic {key}"},
    }
    url = f"http://127.0.0.1:{port}{benthos.PATH}"
    with benthos.serving(binary, config, tmp_path / "benthos.log", port):
        for why, headers in refused.items():
            for body in (single_body(), batch_body(1000)):
                answer = httpx.post(url, content=body, headers=headers, timeout=15)
                assert answer.status_code == 401, (why, answer.status_code, answer.text)
                assert answer.headers["WWW-Authenticate"] == 'Bearer realm="iotpipe"'
                assert answer.json()["status"] == 401 and answer.json()["detail"], why
        assert benthos.topic_messages(endpoints["kafka"], topic) == 0  # nothing written
        assert benthos.post_until_served(url, single_body(), key=key).status_code == 200
        accepted = httpx.post(
            url, content=batch_body(1000), headers={"Authorization": f"Bearer {key}"}, timeout=15
        )
        assert accepted.status_code == 200  # a body of 1,000 readings (~250 kB) is taken
        lower = httpx.post(  # the scheme's case does not matter (RFC 9110), as in ingest
            url, content=single_body(), headers={"Authorization": f"bearer {key}"}, timeout=15
        )
        assert lower.status_code == 200
    assert benthos.topic_messages(endpoints["kafka"], topic) == 1 + 1000 + 1


def test_benthos_peer_keeps_what_a_client_sends_and_refuses_what_it_cannot_encode(
    endpoints: dict[str, str], topic: str, tmp_path: Path, keys: tuple[KeyStore, str]
) -> None:
    binary = benthos.build(StackSettings().cache_dir.expanduser() / "peers")
    store, key = keys
    auth = {"Authorization": f"Bearer {key}"}
    port = free_port()
    config = tmp_path / "benthos.yaml"
    config.write_text(render(port, topic, endpoints, store))
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
        assert benthos.post_until_served(url, orjson.dumps(full), key=key).status_code == 200
        missing = {k: v for k, v in full.items() if k != "sensor_id"}
        unknown = {**full, "sensor_kind": "SMELL"}
        for body in (orjson.dumps(missing), orjson.dumps(unknown), b"{not json"):
            assert httpx.post(url, content=body, headers=auth, timeout=15).status_code == 502
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
