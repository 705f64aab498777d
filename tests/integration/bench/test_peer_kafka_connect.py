"""The Kafka Connect peer against the real stack: a small pre-filled topic of Avro readings
(our bare producer, Confluent framing) ends up in MongoDB, decoded field by field, and the
peer leaves no worker, consumer group or offsets file behind. Its jars are built into the
peers cache on first use (about a minute from Maven Central), then reused; the worker's
start-up takes a few seconds (ServiceLoader manifests, no plugin scan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from iotpipe.bench import limits
from iotpipe.bench.peers import PeerContext
from iotpipe.bench.peers import kafka_connect as kc
from iotpipe.contract.catalog import Contract
from tests.scratch import Scratch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

# Enough for the connector's stamps (whole seconds) to span more than one second: 3,000
# readings were stored within one second in some runs, and a rate without a span is not a
# number (kc.stamped_rate).
PREFILL = 15_000


@pytest.fixture
def peer_ctx(endpoints: dict[str, str], tmp_path: Path, scratch: Scratch) -> PeerContext:
    topic = scratch.topic("test-peer-kc", partitions=3, push=True)  # removed after the test
    database = scratch.database("test_peer_kc")
    limits.bare_producer(endpoints["kafka"], endpoints["registry"], Contract.load(), topic, PREFILL)
    return PeerContext(
        endpoints=endpoints,
        workdir=tmp_path,
        cache=Path.home() / ".cache" / "iotpipe" / "peers",
        seconds=5,
        connections=4,
        topic=topic,
        prefilled_topic=topic,
        prefill=PREFILL,
        database=database,
        keys_file=tmp_path / "keys.json",  # Kafka Connect checks no key (nor does the sink)
        key="",
    )


def test_the_peer_drains_the_prefilled_topic_into_mongodb(peer_ctx: PeerContext) -> None:
    # Another peer of the run may have written to the same database first.
    client: MongoClient[dict[str, Any]] = MongoClient(peer_ctx.endpoints["mongodb"])
    client[peer_ctx.database]["readings"].insert_one({"event_id": "from-another-peer"})
    client.close()

    figures = kc.measure(peer_ctx)

    assert figures["stored"] == PREFILL
    assert figures["sink_docs_per_s"] > 0
    assert figures["startup_s"] > 0
    client = MongoClient(peer_ctx.endpoints["mongodb"], tz_aware=True)
    try:
        readings = client[peer_ctx.database]["readings"]
        doc = readings.find_one({}, {"_id": 0})
        assert doc is not None
        # Decoded from Avro against the registry: the reading's fields, a BSON date.
        assert set(doc) >= {"event_id", "device_id", "sensor_id", "value", "unit", "event_time"}
        assert doc["sensor_kind"] == "TEMPERATURE"
        assert doc["event_time"].year >= 2024
        assert len(readings.distinct("event_id")) == PREFILL
    finally:
        client.close()
    # Cleaned up: the worker stopped (its log says so), no offsets file, no group.
    log = (peer_ctx.workdir / "kafka-connect" / "worker.log").read_text()
    assert "Kafka Connect stopped" in log
    assert not list((peer_ctx.workdir / "kafka-connect").glob("*.offsets"))
    connector = (peer_ctx.workdir / "kafka-connect" / "connector.properties").read_text()
    name = next(line for line in connector.splitlines() if line.startswith("name="))[5:]
    admin = AdminClient({"bootstrap.servers": peer_ctx.endpoints["kafka"]})
    groups = admin.list_consumer_groups().result(30)
    assert f"connect-{name}" not in {g.group_id for g in groups.valid}
