"""Backfill jobs end to end: a local HTTP server in openSenseMap's shapes (more than
10,000 rows for a sensor, rows sharing an instant at a page boundary, injected 500s and
timeouts, bad rows), the real ingest app, real Kafka, the registry, and the jobs topic."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi.testclient import TestClient

from ingest.jobs.runner import JobRunner
from ingest.main import build_app
from iotpipe.contract.serde import ContractSerde
from iotpipe.kafka_admin import KafkaTopicAdmin
from tests.integration.jobs.conftest import Pipeline
from tests.unit.jobs.fake_api import BOX_ID, HUMIDITY, TEMPERATURE, FakeApi, Fault, ms, series

pytestmark = pytest.mark.timeout(240)
START = (datetime.now(UTC) - timedelta(days=30)).replace(second=0, microsecond=0)
END = START + timedelta(days=12)


def topic_readings(pipeline: Pipeline) -> list[Any]:
    """Every record on the readings topic now (read up to the end offsets), decoded."""
    topic = pipeline.settings.topic
    consumer = Consumer(
        {"bootstrap.servers": pipeline.endpoints["kafka"], "group.id": uuid.uuid4().hex}
    )
    serde = ContractSerde(
        SchemaRegistryClient({"url": pipeline.endpoints["registry"]}), pipeline.contract
    )
    ends: dict[int, int] = {}
    assigned = []
    for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if high > low:
            ends[partition] = high
            assigned.append(TopicPartition(topic, partition, low))
    consumer.assign(assigned)
    records = []
    try:
        while ends:
            message = consumer.poll(10)
            assert message is not None, "the topic ended before its end offsets"
            assert message.error() is None, message.error()
            headers = message.headers() or []
            assert isinstance(headers, list)
            records.append(serde.decode(message.value(), headers, topic))
            if (message.offset() or 0) >= ends[message.partition() or 0] - 1:
                ends.pop(message.partition() or 0)
    finally:
        consumer.close()
    return records


@contextmanager
def ingest(pipeline: Pipeline) -> Iterator[tuple[TestClient, JobRunner]]:
    """The real app (build_app: Kafka publisher, jobs topic store), lifespan included."""
    with TestClient(build_app(pipeline.settings)) as client:
        client.headers["Authorization"] = f"Bearer {pipeline.admin_key}"
        runner: JobRunner = client.app.state.jobs  # type: ignore[attr-defined]
        yield client, runner


def finish(client: TestClient, runner: JobRunner, job_id: str) -> dict[str, Any]:
    client.portal.call(runner.join, job_id)  # type: ignore[union-attr]
    job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
    return job


def key(reading: Any) -> tuple[str, str, float]:
    return (reading.sensor_id, ms(reading.event_time), reading.value)


def test_a_backfill_publishes_every_source_row_and_a_rerun_adds_no_event_ids(
    pipeline: Pipeline,
) -> None:
    temperature = series(START, 12_345)
    # Four rows sharing one instant where the first 10,000-row page ends.
    crowded = temperature[12_345 - 10_000 + 1]["createdAt"]
    temperature += [{"value": f"{i}.5", "createdAt": crowded} for i in range(3)]
    humidity = series(START, 40, step=timedelta(hours=1), value=55.0)
    bad = [
        {"value": "abc", "createdAt": ms(START + timedelta(minutes=30))},
        {"value": "NaN", "createdAt": ms(START + timedelta(minutes=31))},
    ]
    fake = FakeApi(
        rows={TEMPERATURE: temperature, HUMIDITY: humidity + bad},
        faults=[Fault("/data/", 500, times=1), Fault("/data/", 0, times=1)],
        hang_seconds=2.0,
    )
    body = {"box_id": BOX_ID, "from": ms(START), "to": ms(END)}
    with fake.serve() as url, ingest(pipeline) as (client, runner):
        started = client.post("/v1/jobs", json={**body, "source": url})
        assert started.status_code == 202, started.text
        job = finish(client, runner, started.json()["id"])
        assert job["state"] == "succeeded", job["reason"]
        rerun = client.post("/v1/jobs", json={**body, "source": url})
        again = finish(client, runner, rerun.json()["id"])
        assert again["state"] == "succeeded", again["reason"]

    good = len(temperature) + len(humidity)
    totals = job["totals"]
    assert (totals["rows_read"], totals["published"], totals["rejected"]) == (good + 2, good, 2)
    assert job["bad_rows"]["count"] == 2
    assert job["retries"] == 2  # one 500, one timeout
    first_pages = [c for c in fake.data_calls(TEMPERATURE)[:6] if c["to-date"] == crowded]
    assert first_pages, "the second page of temperature ends at the crowded instant"

    readings = topic_readings(pipeline)
    assert len(readings) == 2 * good  # both runs published every good row once
    expected = Counter(
        (sensor, row["createdAt"], float(row["value"]))
        for sensor, rows in ((TEMPERATURE, temperature), (HUMIDITY, humidity))
        for row in rows
    )
    on_topic = Counter(key(r) for r in readings)
    assert on_topic == expected + expected  # values and counts, once per run
    ids = Counter(str(r.event_id) for r in readings)
    assert len(ids) == good - 3  # rows at one instant share an id; the rerun added none
    assert all(r.device_id == BOX_ID for r in readings)

    state = KafkaTopicAdmin(pipeline.endpoints["kafka"]).describe([pipeline.settings.jobs_topic])
    assert state[pipeline.settings.jobs_topic].configs["cleanup.policy"] == "compact"


def test_a_restarted_ingest_resumes_an_unfinished_job_from_its_cursor(
    pipeline: Pipeline,
) -> None:
    temperature = series(START, 25_000, step=timedelta(seconds=30))
    fake = FakeApi(rows={TEMPERATURE: temperature}, gate=threading.Event(), gate_after=1)
    body = {"box_id": BOX_ID, "from": ms(START), "to": ms(END), "sensors": [TEMPERATURE]}
    with fake.serve() as url:
        with ingest(pipeline) as (client, _runner):
            job_id = client.post("/v1/jobs", json={**body, "source": url}).json()["id"]
            assert fake.blocked.wait(60), "the job never asked for its second page"
            before = client.get(f"/v1/jobs/{job_id}").json()
        # ingest stopped (the job was not cancelled); a new instance reads the jobs topic.
        assert before["state"] == "running"
        cursor = before["sensors"][0]["cursor"]["to"]
        assert before["sensors"][0]["published"] == 10_000
        assert cursor == temperature[25_000 - 10_000]["createdAt"]
        calls_before = len(fake.data_calls(TEMPERATURE))
        fake.gate.set()  # type: ignore[union-attr]
        with ingest(pipeline) as (client, runner):
            done = finish(client, runner, job_id)
    assert done["state"] == "succeeded", done["reason"]
    resumed = fake.data_calls(TEMPERATURE)[calls_before:]
    assert resumed[0]["to-date"] == cursor
    assert all(c["to-date"] <= cursor for c in resumed)  # never from the range's end again
    readings = topic_readings(pipeline)
    assert len(readings) == 25_000  # no page published twice
    assert Counter(key(r) for r in readings) == Counter(
        (TEMPERATURE, row["createdAt"], float(row["value"])) for row in temperature
    )
    assert done["totals"]["rows_read"] == 25_000
