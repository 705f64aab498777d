"""Post over HTTP and WebSocket, then consume from Kafka and decode against the registry."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, Message
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi.testclient import TestClient

from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, TRACE_HEADER
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.integration.ingest.conftest import DEVICE, LiveIngest
from tests.scratch import Scratch


def reading(i: int, device: str = DEVICE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json").read_text()
    )
    moment = datetime.now(UTC) - timedelta(seconds=i)
    data.update(
        event_id=str(uuid.uuid4()),
        device_id=device,
        value=float(i),
        event_time=moment.isoformat(timespec="milliseconds"),
    )
    return data


def consume(endpoints: dict[str, str], topic: str, count: int) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints["kafka"],
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message)
    finally:
        consumer.close()
    return got


def test_posted_records_arrive_in_kafka_exactly_as_sent(
    live_ingest: LiveIngest, endpoints: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {live_ingest.device_key}"}
    trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    sent = [reading(i) for i in range(60)]
    assert (
        live_ingest.client.post(
            "/v1/readings", json=sent[0], headers={**auth, "traceparent": trace}
        ).status_code
        == 202
    )
    batch = live_ingest.client.post("/v1/readings/batch", json=sent[1:50], headers=auth)
    assert batch.status_code == 202
    assert batch.json()["accepted"] == 49
    with live_ingest.client.websocket_connect("/v1/stream", headers=auth) as ws:
        ws.send_text(json.dumps(sent[50:]))
        assert ws.receive_json()["accepted"] == 10
    event = json.loads((REPO_DIR / "generated/examples/dev.iotpipe.DeviceEvent.json").read_text())
    event.update(event_id=str(uuid.uuid4()), event_time=datetime.now(UTC).isoformat())
    assert live_ingest.client.post("/v1/device-events", json=event, headers=auth).status_code == 202

    messages = consume(endpoints, live_ingest.topic, 61)
    assert len(messages) == 61
    serde = ContractSerde(
        SchemaRegistryClient({"url": endpoints["registry"]}), live_ingest.contract
    )
    decoded = {}
    for message in messages:
        assert message.key() == DEVICE.encode()
        raw_headers = message.headers() or []
        assert isinstance(raw_headers, list)
        record = serde.decode(message.value(), raw_headers, live_ingest.topic)
        decoded[str(getattr(record, "event_id", ""))] = (record, dict(raw_headers))
    event_record, event_headers = decoded[event["event_id"]]
    event_json = event_record.model_dump(mode="json")
    for field in ("device_id", "kind", "status", "battery_percent", "firmware_version"):
        assert event_json[field] == event[field], field
    assert event_headers[RECORD_TYPE_HEADER] == b"dev.iotpipe.DeviceEvent"
    for original in sent:
        record, headers = decoded[original["event_id"]]
        as_json = record.model_dump(mode="json")
        assert as_json["ingest_time"] is not None
        for field in (
            "device_id",
            "sensor_id",
            "sensor_kind",
            "value",
            "unit",
            "location",
            "metadata",
        ):
            assert as_json[field] == original[field], field
        assert datetime.fromisoformat(as_json["event_time"]) == datetime.fromisoformat(
            original["event_time"]
        )
        assert headers[RECORD_TYPE_HEADER] == b"dev.iotpipe.SensorReading"
    assert decoded[sent[0]["event_id"]][1][TRACE_HEADER] == trace.encode()


def test_kafka_unreachable_is_503_with_retry_after(endpoints: dict[str, str]) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        registry_url=endpoints["registry"],
        auth="disabled",
        delivery_timeout_ms=2000,
    )
    with TestClient(build_app(settings)) as client:
        started = time.monotonic()
        response = client.post("/v1/readings", json=reading(0))
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["errors"][0]["code"] == "unavailable"
        assert time.monotonic() - started < 10
        assert client.get("/readyz").status_code == 503


def test_registry_unreachable_is_503_not_500(endpoints: dict[str, str], scratch: Scratch) -> None:
    topic = scratch.topic_name("it-noreg")  # its jobs topic is made by ingest's job store
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url="http://127.0.0.1:1/apis/ccompat/v7",
        auth="disabled",
        topic=topic,
        jobs_topic=f"{topic}-jobs",
        devices_topic=f"{topic}-devices",
    )
    with TestClient(build_app(settings)) as client:
        response = client.post("/v1/readings", json=reading(0))
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "registry" in response.json()["errors"][0]["message"]
        batch = client.post("/v1/readings/batch", json=[reading(1), reading(2)])
        assert batch.status_code == 503
        assert [r["status"] for r in batch.json()["results"]] == ["failed", "failed"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "registry" in ready.json()["detail"]
