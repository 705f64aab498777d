"""The HTTP API with the in-memory publisher: status codes, bodies, auth, limits."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher import Failed
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.devices.boxes import InMemoryBoxes
from tests.unit.ingest.conftest import DEVICE, device_event, reading

PROBLEM = "application/problem+json"


def test_one_reading_is_accepted_and_published(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    response = client.post(
        "/v1/readings",
        json=reading(),
        headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    [(record, trace)] = publisher.published
    assert str(getattr(record, "event_id", "")) == body["event_id"]
    assert getattr(record, "device_id", None) == DEVICE
    assert trace == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def test_schema_violation_is_422_with_pointer_and_expectation(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    response = client.post("/v1/readings", json=reading(location={"latitude": 91, "longitude": 0}))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["pointer"] == "/location/latitude"
    assert "less than or equal to 90" in error["message"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"value": NaN}', "application/json", 400),
        (b'{"value": 1e400}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"", "application/json", 400),
        (b"device_id=x", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
    ],
)
def test_malformed_bodies_and_wrong_media_types(
    client: TestClient, body: bytes, content_type: str, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/readings", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"]


def test_compressed_bodies_are_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/readings",
        content=b"\x1f\x8b...",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 415


def test_body_and_batch_limits_are_413(client: TestClient) -> None:
    big = reading(metadata={"pad": "x" * 70_000})
    assert client.post("/v1/readings", json=big).status_code == 413
    response = client.post("/v1/readings/batch", json=[reading() for _ in range(11)])
    assert response.status_code == 413
    assert "limit of 10" in response.json()["detail"]


def test_huge_and_non_finite_values_never_reach_kafka(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert client.post("/v1/readings", json=reading(value=1e300)).status_code == 422
    assert client.post("/v1/readings", json=reading(value="Infinity")).status_code == 422
    assert publisher.published == []


def test_batch_publishes_valid_records_and_reports_each(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    batch = [reading(), reading(value="warm"), "nope", reading(device_id="other"), reading()]
    response = client.post("/v1/readings/batch", json=batch)
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "accepted"),
    ]
    assert body["results"][1]["errors"][0]["pointer"] == "/value"
    assert body["results"][3]["errors"][0]["code"] == "forbidden_device"
    assert len(publisher.published) == 2


def test_batch_with_nothing_valid_is_422_and_bad_shapes_too(client: TestClient) -> None:
    response = client.post("/v1/readings/batch", json=[{"value": 1}])
    assert response.status_code == 422
    [result] = response.json()["results"]
    assert (result["index"], result["status"]) == (0, "rejected")
    assert {e["pointer"] for e in result["errors"]} >= {"/device_id", "/event_time"}
    assert client.post("/v1/readings/batch", json=reading()).status_code == 422
    assert client.post("/v1/readings/batch", json=[]).status_code == 422


def test_device_events_have_their_own_endpoints(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    assert client.post("/v1/device-events", json=device_event()).status_code == 202
    response = client.post(
        "/v1/device-events/batch", json=[device_event(battery_percent=50), device_event(kind="NAP")]
    )
    assert response.status_code == 202
    assert response.json()["rejected"] == 1
    assert [type(r).__name__ for r, _ in publisher.published] == ["DeviceEvent", "DeviceEvent"]


def test_missing_unknown_and_foreign_keys(client: TestClient, keys: KeyStore) -> None:
    anonymous = client.post("/v1/readings", json=reading(), headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bogus = client.post(
        "/v1/readings",
        json=reading(),
        headers={"Authorization": "Bearer iotp_000000000000_" + "x" * 43},
    )
    assert bogus.status_code == 401
    assert client.post("/v1/readings", json=reading(device_id="other")).status_code == 403
    other_key = keys.create("other")[1]
    as_other = client.post(
        "/v1/readings",
        json=reading(device_id="other"),
        headers={"Authorization": "", "X-API-Key": other_key},
    )
    assert as_other.status_code == 202
    admin = keys.create("ops", "admin")[1]
    for device in ("a-1", "b-2"):
        response = client.post(
            "/v1/readings",
            json=reading(device_id=device),
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert response.status_code == 202


def test_revoked_key_stops_working(client: TestClient, keys: KeyStore, device_key: str) -> None:
    assert client.post("/v1/readings", json=reading()).status_code == 202
    keys.revoke(device_key.split("_")[1])
    assert client.post("/v1/readings", json=reading()).status_code == 401


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (Failed("unavailable", "kafka: no broker reachable", 7), 503),
        (Failed("queue_full", "producer queue is full", 1), 429),
    ],
)
def test_kafka_trouble_is_503_or_429_with_retry_after_and_results(
    client: TestClient, publisher: MemoryPublisher, failure: Failed, status: int
) -> None:
    publisher.failure = failure
    single = client.post("/v1/readings", json=reading())
    assert single.status_code == status
    assert single.headers["retry-after"] == str(failure.retry_after)
    batch = client.post("/v1/readings/batch", json=[reading(), reading(value="x")])
    assert batch.status_code == status
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["failed", "rejected"]
    assert results[0]["event_id"]  # retry with the same id: the sink drops duplicates
    assert single.json()["errors"][0]["code"] == failure.reason


def test_health_readiness_and_metrics(client: TestClient, publisher: MemoryPublisher) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/v1/readings", json=reading())
    client.post("/v1/readings", json=reading(unit=""))
    metrics = client.get("/metrics").text
    assert (
        'iotpipe_ingest_records_total{outcome="accepted",reason="",record_type="SensorReading"} 1.0'
        in metrics
    )
    assert 'reason="string_too_short"' in metrics
    assert (
        'iotpipe_ingest_requests_total{method="POST",route="/v1/readings",status="202"} 1.0'
        in metrics
    )
    assert "iotpipe_ingest_producer_queue_depth" in metrics
    publisher.failure = Failed("unavailable", "kafka: down", 5)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.headers["retry-after"] == "5"


def test_schemas_for_integrators(client: TestClient) -> None:
    listed = client.get("/v1/schemas").json()
    assert [s["name"] for s in listed] == ["DeviceEvent", "SensorReading"]
    avro = client.get("/v1/schemas/dev.iotpipe.SensorReading").json()
    assert avro["schema"]["name"] == "SensorReading"
    assert avro["subject"] == "sensor-data-dev.iotpipe.SensorReading"
    assert client.get("/v1/schemas/SensorReading/json-schema").json()["title"] == "SensorReading"
    example = client.get("/v1/schemas/SensorReading/example").json()
    assert example["device_id"] == DEVICE
    assert client.get("/v1/asyncapi.json").json()["asyncapi"] == "3.0.0"
    missing = client.get("/v1/schemas/Nope")
    assert missing.status_code == 404
    assert "known: DeviceEvent, SensorReading" in missing.json()["detail"]
    no_registry = client.get("/v1/schemas/SensorReading/versions")
    assert no_registry.status_code == 503


def test_auth_can_be_disabled_for_local_experiments(publisher: MemoryPublisher) -> None:
    app = create_app(settings=IngestSettings(auth="disabled"), publisher=publisher)
    with TestClient(app) as anonymous:
        assert anonymous.post("/v1/readings", json=reading(device_id="any")).status_code == 202


def test_openapi_documents_every_operation_with_examples(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert {"bearer", "apiKey"} <= set(doc["components"]["securitySchemes"])
    assert "GeoLocation" in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body:
                assert body["content"]["application/json"]["example"], (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("examples") or parameter["schema"].get("examples"), path
    assert json.dumps(doc).count("#/components/schemas/Problem") > 10


class _Unread(InMemoryBoxes):
    """A device registry still reading its topic."""

    read = False

    @property
    def caught_up(self) -> bool:
        return self.read


def test_not_ready_until_the_device_registry_is_read(
    settings: IngestSettings, publisher: MemoryPublisher, keys: KeyStore
) -> None:
    boxes = _Unread()
    with TestClient(
        create_app(settings=settings, publisher=publisher, keys=keys, boxes=boxes)
    ) as c:
        not_ready = c.get("/readyz")
        assert not_ready.status_code == 503
        assert "device registry" in not_ready.json()["detail"]
        boxes.read = True
        assert c.get("/readyz").status_code == 200
