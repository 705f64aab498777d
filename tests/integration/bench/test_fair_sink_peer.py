"""Our sink and the Kafka Connect peer store the same reading document (issue 22 item 9).

Both drain one small topic of readings with every optional field set or unset (location
with and without elevation, quality, ingest_time, metadata); one document of each, found
by event_id, is compared field by field: the fields ``same_work.EQUAL_FIELDS`` claims
equal must have the same value and BSON type, ``SAME_TYPE_FIELDS`` the same type, and
neither sink may store a field the other lacks. Our sink runs in the bench's same-work
mode (``SAME_WORK_ENV``), which must leave the rollups and device status empty. Measured
here: the worker's start-up (launch to task RUNNING) 8-13 s on the shared 2-core box, the
test's call 23-26 s (about 35 s with set-up and teardown), so slow but not heavy.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pymongo import MongoClient

from generated.models import SensorReading
from iotpipe.bench import phases
from iotpipe.bench.peers import PeerContext
from iotpipe.bench.peers import kafka_connect as kc
from iotpipe.bench.same_work import EQUAL_FIELDS, SAME_TYPE_FIELDS, SAME_WORK_ENV
from iotpipe.contract.serde import ContractSerde
from iotpipe.processes import stop
from sink.documents import DEVICE_STATUS, ROLLUPS
from tests.scratch import Scratch
from tests.support import contract_on, sink_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

COUNT = 8


def readings(count: int) -> list[SensorReading]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        SensorReading.model_validate({
            "event_id": str(uuid.uuid4()), "device_id": "dev-1", "sensor_id": "temp-1",
            "sensor_kind": "TEMPERATURE", "value": 20.5 + i, "unit": "Cel",
            "event_time": now - timedelta(seconds=i),
            "ingest_time": now if i % 2 else None,
            "location": {"latitude": 51.9, "longitude": 7.6,
                         "elevation_m": 60.0 if i % 2 else None} if i % 3 else None,
            "quality": "GOOD" if i % 2 else None,
            "metadata": {"calibration": "2026-10"} if i % 2 else {},
        })
        for i in range(count)
    ]  # fmt: skip


def typed(document: Any) -> Any:
    """Each value with its Python type (BSON's, as pymongo reads it), nested too."""
    if isinstance(document, dict):
        return {k: typed(v) for k, v in document.items()}
    return (type(document).__name__, document)


def test_both_sinks_store_the_same_reading_document(
    endpoints: dict[str, str], tmp_path: Path, scratch: Scratch
) -> None:
    topic = scratch.topic("test-fair-sink", partitions=1, dlq=True, push=True)
    ours, theirs = scratch.database("test_fair_ours"), scratch.database("test_fair_peer")
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), contract_on(topic))
    producer = Producer({"bootstrap.servers": endpoints["kafka"], "acks": "all"})
    sent = readings(COUNT)
    for record in sent:
        producer.produce(topic, key=record.device_id.encode(), value=serde.encode(record, topic),
                         headers=serde.headers(record))  # fmt: skip
    assert producer.flush(30) == 0

    group = f"{topic}-sink"
    env = {**sink_environment(endpoints, topic=topic, group=group, database=ours), **SAME_WORK_ENV}
    sink = subprocess.Popen([sys.executable, "-m", "iotpipe", "sink"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        context = PeerContext(
            endpoints=endpoints, workdir=tmp_path, cache=Path.home() / ".cache/iotpipe/peers",
            seconds=0, connections=0, topic=topic, prefilled_topic=topic, prefill=COUNT,
            database=theirs, keys_file=tmp_path / "keys.json", key="",
        )  # fmt: skip
        assert kc.measure(context)["stored"] == COUNT
        deadline = time.monotonic() + 60
        while phases.committed(endpoints["kafka"], group, topic) < COUNT:
            assert time.monotonic() < deadline, "our sink did not store the readings"
            time.sleep(0.3)
    finally:
        stop(sink, grace=20)

    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"], tz_aware=True)
    try:
        for record in sent:
            mine = client[ours]["readings"].find_one({"event_id": str(record.event_id)})
            peer = client[theirs]["readings"].find_one({"event_id": str(record.event_id)})
            assert mine is not None and peer is not None
            assert set(mine) == set(peer) == {*EQUAL_FIELDS, *SAME_TYPE_FIELDS}
            for name in EQUAL_FIELDS:
                assert typed(mine[name]) == typed(peer[name]), name
            for name in SAME_TYPE_FIELDS:
                assert type(mine[name]) is type(peer[name]), name
        # Same work: readings only, no views.
        assert client[ours][ROLLUPS].count_documents({}) == 0
        assert client[ours][DEVICE_STATUS].count_documents({}) == 0
        assert client[ours]["readings"].count_documents({}) == COUNT
    finally:
        client.close()
