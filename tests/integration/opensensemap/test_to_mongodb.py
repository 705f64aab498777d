"""A senseBox CSV upload through the whole pipeline: a real ingest process (shipped
server options) -> Kafka -> a real ``iotpipe sink`` process -> FerretDB, and the stored
documents are the box's readings."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pymongo import MongoClient

from tests.integration.opensensemap.conftest import HOME, OsemServer
from tests.integration.opensensemap.test_device_wire import sketch_request, split
from tests.support import sink_environment, stop

TEMP, HUMID, PRESS = (
    "57000b8745fd40c8196ad052",
    "57000b8745fd40c8196ad051",
    "57000b8745fd40c8196ad050",
)


@pytest.fixture
def stored(osem_server: OsemServer, tmp_path: Path) -> Iterator[Any]:
    """The readings collection of a sink that consumes the ingest process's topic."""
    tag = uuid.uuid4().hex[:8]
    endpoints = osem_server.endpoints
    dlq = f"{osem_server.topic}.dlq"
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    if dlq not in admin.list_topics(timeout=10).topics:
        admin.create_topics([NewTopic(dlq, num_partitions=1, replication_factor=1)])[dlq].result(30)
    database = f"it_osem_{tag}"
    env = {
        **sink_environment(
            endpoints,
            topic=osem_server.topic,
            group=f"{osem_server.topic}-sink-{tag}",  # the topic's family: removed with it
            database=database,
        ),
        "IOTPIPE_SINK_BATCH_MAX_SECONDS": "0.2",
    }
    log = (tmp_path / "sink.log").open("wb")
    sink = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "sink"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        endpoints["mongodb"], tz_aware=True, serverSelectionTimeoutMS=10000
    )
    try:
        yield mongo[database]["readings"]
    finally:
        stop(sink, 20)
        mongo.drop_database(database)
        mongo.close()
        log.close()


def wait_for(collection: Any, query: dict[str, Any], count: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := int(collection.count_documents(query))) >= count:
            return found
        time.sleep(0.5)
    return int(collection.count_documents(query))


def test_a_csv_upload_is_stored_as_the_box_readings(osem_server: OsemServer, stored: Any) -> None:
    created = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=123000)
    stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = (
        f"{TEMP},    21.34\n{HUMID},55.2,{stamp}\n{PRESS},1013.25,{stamp},7.64568,51.962372\n"
    ).encode()
    sent = datetime.now(UTC)

    status, _, payload = split(osem_server.send(sketch_request(osem_server.token, body, len(body))))

    assert status == 201, payload
    assert wait_for(stored, {"device_id": HOME}, 3, timeout=30) == 3
    documents = {d["sensor_id"]: d for d in stored.find({"device_id": HOME}, {"_id": 0})}
    assert set(documents) == {TEMP, HUMID, PRESS}
    temp, humid, press = documents[TEMP], documents[HUMID], documents[PRESS]
    assert (temp["value"], temp["unit"], temp["sensor_kind"]) == (21.34, "°C", "TEMPERATURE")
    assert (humid["value"], humid["unit"], humid["sensor_kind"]) == (55.2, "%", "HUMIDITY")
    assert (press["value"], press["unit"], press["sensor_kind"]) == (1013.25, "hPa", "PRESSURE")
    assert abs(temp["event_time"] - sent) < timedelta(seconds=10)  # receive time
    assert humid["event_time"] == created and press["event_time"] == created
    assert press["location"] == {"latitude": 51.962372, "longitude": 7.64568, "elevation_m": None}
    assert temp["metadata"] == {
        "source": "opensensemap",
        "osem_title": "Temperatur",
        "osem_sensor_type": "HDC1008",
    }
    assert all(
        d["ingest_time"] >= d["event_time"] - timedelta(seconds=1) for d in documents.values()
    )
