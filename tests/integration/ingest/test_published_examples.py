"""Every example ingest publishes is accepted when posted as it is: each operation's request
example in the served ``/openapi.json`` and each ``/v1/schemas/{name}/example``, posted to a
real ingest (Kafka, registry, device registry) with the key the operation asks for.

The committed examples carry a fixed ``event_time``, which ingest refuses a week later
(7 days' maximum age); ingest serves them with the time of the request instead, which
this checks too (within a minute of now)."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.devices.boxes import Box
from iotpipe.devices.kafka import publish_boxes
from iotpipe.kafka_admin import KafkaTopicAdmin
from iotpipe.topics import devices_topic_spec, ensure_topics
from tests.integration.ingest.conftest import LiveIngest
from tests.integration.opensensemap.conftest import boxes_with_token

pytestmark = pytest.mark.timeout(120)

BOX_TOKEN = secrets.token_hex(32)
EXAMPLE_BOX = "57000b8745fd40c8196ad04c"  # openSenseMap's own example box (and ingest's)
# The operations that publish an example: (method, path) -> the status that accepts it.
ACCEPTS = {
    ("post", "/v1/readings"): 202,
    ("post", "/v1/readings/batch"): 202,
    ("post", "/v1/device-events"): 202,
    ("post", "/v1/device-events/batch"): 202,
    ("post", "/v1/jobs"): 202,
    ("post", "/boxes/{boxId}/data"): 201,
    ("post", "/boxes/{boxId}/{sensorId}"): 201,
}


@pytest.fixture(scope="module")
def ingest(
    live_settings: tuple[IngestSettings, Contract, str, str],
    endpoints: dict[str, str],
    request: pytest.FixtureRequest,
) -> LiveIngest:
    """The live ingest, knowing openSenseMap's example box (its token: BOX_TOKEN) from
    its device registry topic before it starts."""
    settings = live_settings[0]
    kafka = endpoints["kafka"]
    report = ensure_topics(
        KafkaTopicAdmin(kafka), [devices_topic_spec(topic=settings.devices_topic)]
    )
    assert report.ok, report.problems
    box = next(b for b in boxes_with_token(BOX_TOKEN) if b["_id"] == EXAMPLE_BOX)
    publish_boxes(kafka, [Box.from_osem(box)], topic=settings.devices_topic)
    live: LiveIngest = request.getfixturevalue("live_ingest")
    deadline = time.monotonic() + 15
    while live.app.state.boxes.get(EXAMPLE_BOX) is None:
        assert time.monotonic() < deadline, "ingest did not learn the example box"
        time.sleep(0.1)
    return live


def _headers(operation: dict[str, Any], live: LiveIngest) -> dict[str, str]:
    """The credentials the operation declares: openSenseMap's box token, an admin key for
    admin operations, else the device's key."""
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if "boxToken" in schemes:
        return {"Authorization": BOX_TOKEN}
    if operation.get("x-iotpipe-role") == "admin":
        return {"Authorization": f"Bearer {live.admin_key}"}
    assert "bearer" in schemes, operation.get("summary")
    return {"Authorization": f"Bearer {live.device_key}"}


def _url(path: str, operation: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            given = parameter.get("example", parameter["schema"].get("examples", [None])[0])
            assert given is not None, f"{path}: no example for {parameter['name']}"
            path = path.replace(f"{{{parameter['name']}}}", str(given))
    return path


def _event_times(example: Any) -> list[datetime]:
    records = example if isinstance(example, list) else [example]
    return [
        datetime.fromisoformat(r["event_time"].replace("Z", "+00:00"))
        for r in records
        if isinstance(r, dict) and "event_time" in r
    ]


def _assert_now(times: list[datetime], what: str) -> None:
    now = datetime.now(UTC)
    for served in times:
        assert abs(served - now) < timedelta(minutes=1), f"{what}: event_time {served}"


def _post(
    client: TestClient, method: str, url: str, *, media: str, example: Any, headers: dict[str, str]
) -> int:
    body = example if isinstance(example, str) else json.dumps(example)
    response = client.request(
        method.upper(), url, content=body, headers={"Content-Type": media, **headers}
    )
    assert response.status_code < 300, f"{method.upper()} {url} ({media}): {response.text}"
    return response.status_code


def test_every_request_example_of_the_served_openapi_document_is_accepted(
    ingest: LiveIngest,
) -> None:
    doc = ingest.client.get("/openapi.json").json()
    posted: dict[tuple[str, str], list[int]] = {}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            for media, body in content.items():
                if "example" not in body:
                    continue  # the binary senseBox formats have none
                _assert_now(_event_times(body["example"]), f"{method} {path}")
                status = _post(
                    ingest.client,
                    method,
                    _url(path, operation),
                    media=media,
                    example=body["example"],
                    headers=_headers(operation, ingest),
                )
                posted.setdefault((method, path), []).append(status)
    # Each was accepted (_post); these with their own status, and none went unposted.
    assert {key: set(posted.get(key, [])) for key in ACCEPTS} == {
        key: {status} for key, status in ACCEPTS.items()
    }
    job = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    _assert_now([datetime.fromisoformat(job["example"]["to"].replace("Z", "+00:00"))], "job")


def test_every_schema_example_is_accepted_where_its_record_type_is_published(
    ingest: LiveIngest,
) -> None:
    doc = ingest.client.get("/openapi.json").json()
    # The publish operation of each record type: the one whose body is its request schema.
    single_route = {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]: path
        for path, operations in doc["paths"].items()
        for operation in operations.values()
        if "$ref" in operation.get("requestBody", {}).get("content", {}).get(
            "application/json", {}).get("schema", {})
    }  # fmt: skip
    types = ingest.client.get("/v1/schemas").json()
    assert {t["name"] for t in types} == {"SensorReading", "DeviceEvent"}
    for record_type in types:
        example = ingest.client.get(record_type["links"]["example"]).json()
        _assert_now(_event_times(example), record_type["name"])
        json_schema = ingest.client.get(record_type["links"]["json_schema"]).json()
        _assert_now(_event_times(json_schema["examples"]), f"{record_type['name']} JSON Schema")
        path = single_route[f"#/components/schemas/{record_type['name']}Request"]
        headers = {"Authorization": f"Bearer {ingest.device_key}"}
        status = _post(
            ingest.client, "post", path, media="application/json", example=example, headers=headers
        )
        assert status == 202
