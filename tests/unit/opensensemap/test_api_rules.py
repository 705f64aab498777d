"""What the openSenseMap routes add to upstream's behaviour, and how they sit in ingest:
the reading contract (all or nothing), the late-data policy, Kafka trouble, auth, body
limits, OpenAPI and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ingest.publisher import Failed
from ingest.publisher.memory import MemoryPublisher
from tests.unit.opensensemap.vectors import ACCESS_TOKEN

HOME = "57000b8745fd40c8196ad04c"
TEMP, HUMID = "57000b8745fd40c8196ad052", "57000b8745fd40c8196ad051"
LUFTDATEN = "5a1100000000000000d10000"  # useAuth false
DATA = f"/boxes/{HOME}/data"
CSV = {"Content-Type": "text/csv", "Authorization": ACCESS_TOKEN}


def test_a_value_outside_the_contract_refuses_the_whole_request(
    osem: TestClient, publisher: MemoryPublisher
) -> None:
    response = osem.post(DATA, content=f"{TEMP},21.3\n{HUMID},2e9\n", headers=CSV)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "UnprocessableEntity"
    assert HUMID in body["message"] and "rel. Luftfeuchte" in body["message"]
    assert "less than or equal to 1000000000" in body["message"]  # what was expected
    assert publisher.published == []  # the valid temperature is not published either


def test_old_measurements_are_accepted_as_upstream(
    osem: TestClient, publisher: MemoryPublisher
) -> None:
    """openSenseMap has no past limit; ingest's 7-day late-data limit is not applied."""
    response = osem.post(DATA, content=f"{TEMP},1.5,2011-03-04T05:06:07.890Z\n", headers=CSV)

    assert response.status_code == 201
    (record, _trace), *_ = publisher.published
    assert record.event_time == datetime(2011, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)  # type: ignore[attr-defined]


def test_more_than_a_minute_ahead_is_refused(osem: TestClient) -> None:
    ahead = (datetime.now(UTC) + timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    response = osem.post(DATA, content=f"{TEMP},1,{ahead}\n", headers=CSV)
    assert response.status_code == 422
    assert "too far into the future" in response.json()["message"]


def test_resending_the_same_measurements_gives_the_same_event_ids(
    osem: TestClient, publisher: MemoryPublisher
) -> None:
    body = f"{TEMP},1,2024-01-01T10:00:00Z\n{HUMID},2,2024-01-01T10:00:00Z\n"
    assert osem.post(DATA, content=body, headers=CSV).status_code == 201
    assert osem.post(DATA, content=body, headers=CSV).status_code == 201
    ids = [str(getattr(r, "event_id", "")) for r, _ in publisher.published]
    assert len(ids) == 4 and ids[:2] == ids[2:] and ids[0] != ids[1]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (Failed("unavailable", "broker down", 7), 503, "ServiceUnavailable"),
        (Failed("queue_full", "producer queue full", 3), 429, "TooManyRequests"),
    ],
)
def test_kafka_trouble_says_when_to_retry(
    osem: TestClient, publisher: MemoryPublisher, failure: Failed, status: int, code: str
) -> None:
    publisher.failure = failure
    response = osem.post(DATA, content=f"{TEMP},21.3\n", headers=CSV)

    assert response.status_code == status
    assert response.headers["retry-after"] == str(failure.retry_after)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == code
    assert "again" in response.json()["message"]


def test_the_v2_device_key_header_is_accepted(osem: TestClient, publisher: MemoryPublisher) -> None:
    headers = {"Content-Type": "text/csv", "x-osem-device-api-key": ACCESS_TOKEN}
    assert osem.post(DATA, content=f"{TEMP},1\n", headers=headers).status_code == 201
    assert len(publisher.published) == 1


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {ACCESS_TOKEN}", ACCESS_TOKEN.upper(), ACCESS_TOKEN[:-1], None],
    ids=["bearer-scheme", "upper-case", "truncated", "missing"],
)
def test_only_the_exact_token_opens_a_box_with_use_auth(
    osem: TestClient, publisher: MemoryPublisher, authorization: str | None
) -> None:
    headers = {"Content-Type": "text/csv"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = osem.post(DATA, content=f"{TEMP},1\n", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": "Unauthorized", "message": "Box access token not valid!"}
    assert publisher.published == []


def test_a_box_without_use_auth_ignores_the_authorization_header(
    osem: TestClient, publisher: MemoryPublisher
) -> None:
    """The senseBox:bike app sends its user JWT to such boxes; upstream ignores it."""
    headers = {"Content-Type": "text/csv", "Authorization": "Bearer some.user.jwt"}
    body = "5a1100000000000000d10001,12.5\n"
    response = osem.post(f"/boxes/{LUFTDATEN}/data", content=body, headers=headers)
    assert response.status_code == 201
    assert len(publisher.published) == 1


def test_a_body_over_the_limit_is_413_before_decoding(
    osem: TestClient, publisher: MemoryPublisher
) -> None:
    line = f"{TEMP},1\n"
    body = line * (256 * 1024 // len(line) + 1)
    response = osem.post(DATA, content=body, headers=CSV)
    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert publisher.published == []


def test_the_token_is_checked_before_the_body_is_read(osem: TestClient) -> None:
    """An oversized body from an unauthenticated client is a 401, not a 413."""
    body = "x" * (300 * 1024)
    response = osem.post(DATA, content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 401


def test_openapi_shows_the_routes_under_their_tag_with_upstream_errors(
    osem: TestClient,
) -> None:
    doc = osem.get("/openapi.json").json()
    bulk = doc["paths"]["/boxes/{boxId}/data"]["post"]
    single = doc["paths"]["/boxes/{boxId}/{sensorId}"]["post"]
    for operation in (bulk, single):
        assert operation["tags"] == ["openSenseMap"]
        assert operation["description"]
        error = operation["responses"]["401"]["content"]
        assert list(error) == ["application/json"]  # not problem+json
        assert error["application/json"]["schema"]["required"] == ["code", "message"]
    assert set(bulk["requestBody"]["content"]) >= {
        "text/csv",
        "application/json",
        "application/sbx-bytes",
        "application/sbx-bytes-ts",
    }
    assert {"boxToken", "deviceApiKey"} <= set(doc["components"]["securitySchemes"])


def test_metrics_count_requests_readings_and_refusals(osem: TestClient) -> None:
    assert osem.post(DATA, content=f"{TEMP},1\n{HUMID},2\n", headers=CSV).status_code == 201
    assert osem.post(DATA, content=f"{TEMP},nan\n", headers=CSV).status_code == 422
    text = osem.get("/metrics").text
    assert (
        'iotpipe_ingest_requests_total{method="POST",route="/boxes/{boxId}/data",status="201"} 1.0'
        in text
    )
    assert (
        'iotpipe_ingest_records_total{outcome="accepted",reason="",record_type="SensorReading"} 2.0'
        in text
    )
    assert 'reason="opensensemap_UnprocessableEntity"' in text
