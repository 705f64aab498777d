"""The publish routes served as plain ASGI (ingest.api.hot): they answer exactly as the
FastAPI-declared operations do, and they are what serves the requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.api.hot import IngestApp, PublishRoute
from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher import Failed
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from tests.unit.ingest.conftest import reading

pytestmark = pytest.mark.unit

TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


@pytest.fixture
def app(settings: IngestSettings, publisher: MemoryPublisher, keys: KeyStore) -> IngestApp:
    built = create_app(settings=settings, publisher=publisher, keys=keys)
    assert isinstance(built, IngestApp)
    return built


@pytest.fixture
def declared(settings: IngestSettings, publisher: MemoryPublisher, keys: KeyStore) -> IngestApp:
    """The same app with no hot routes: FastAPI's middleware, router and endpoints serve."""
    built = create_app(settings=settings, publisher=publisher, keys=keys)
    assert isinstance(built, IngestApp)
    built.hot_routes.clear()
    return built


def _requests(key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    auth = {"authorization": f"Bearer {key}"}
    json_type = {"content-type": "application/json"}
    good = json.dumps(reading(event_id="0b8f6e2a-6f43-4c8e-9a55-4f1f5a3c2d10")).encode()
    yield "/v1/readings", {"content": good, "headers": auth | json_type | {"traceparent": TRACE}}
    yield "/v1/readings", {"content": good, "headers": json_type}  # no key: 401
    yield "/v1/readings", {"content": good, "headers": {"x-api-key": "iotp_nope"} | json_type}
    yield "/v1/readings", {"content": good, "headers": auth | {"content-type": "text/plain"}}
    yield "/v1/readings", {"content": b"{not json", "headers": auth | json_type}
    yield "/v1/readings", {"content": b'{"a": 1, "a": 2}', "headers": auth | json_type}
    yield "/v1/readings", {"content": b"x" * 70_000, "headers": auth | json_type}
    invalid = json.dumps(reading(location={"latitude": 91, "longitude": 0})).encode()
    yield "/v1/readings", {"content": invalid, "headers": auth | json_type}
    other = json.dumps(reading(device_id="someone-else")).encode()
    yield "/v1/readings", {"content": other, "headers": auth | json_type}
    batch = json.dumps(
        [reading(event_id=f"0b8f6e2a-6f43-4c8e-9a55-4f1f5a3c2d1{i}") for i in range(3)]
        + ["nope", reading(value="warm")]
    ).encode()
    yield "/v1/readings/batch", {"content": batch, "headers": auth | json_type}
    yield "/v1/readings/batch", {"content": b"[]", "headers": auth | json_type}
    yield "/v1/readings/batch", {"content": good, "headers": auth | json_type}
    too_many = json.dumps([reading() for _ in range(11)]).encode()
    yield "/v1/readings/batch", {"content": too_many, "headers": auth | json_type}


def _answer(client: TestClient, path: str, request: dict[str, Any]) -> tuple[int, Any, Any]:
    response = client.post(path, **request)
    body = response.json()
    for result in body.get("results", []):
        result.pop("event_id", None)  # assigned afresh per request
    body.pop("event_id", None)
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    return response.status_code, headers, body


def test_the_hot_routes_answer_as_the_declared_operations(
    app: IngestApp, declared: IngestApp, publisher: MemoryPublisher, device_key: str
) -> None:
    """Every answer (status, headers, problem details) through the hot path equals the
    answer of the FastAPI endpoint of the same operation, reached through FastAPI."""
    with TestClient(app) as hot, TestClient(declared) as slow:
        for path, request in _requests(device_key):
            assert _answer(hot, path, request) == _answer(slow, path, request), (path, request)
    assert len(publisher.published) == 2 * (1 + 3)


def test_kafka_failures_answer_the_same_both_ways(
    app: IngestApp, declared: IngestApp, publisher: MemoryPublisher, device_key: str
) -> None:
    publisher.failure = Failed("unavailable", "kafka: no broker reachable", 7)
    with TestClient(app) as hot, TestClient(declared) as slow:
        for path, request in list(_requests(device_key))[:1] + list(_requests(device_key))[9:10]:
            status, headers, body = _answer(hot, path, request)
            assert (status, headers["retry-after"]) == (503, "7")
            assert (status, headers, body) == _answer(slow, path, request)


def test_the_hot_path_serves_publish_requests_and_counts_them(
    app: IngestApp, device_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[str] = []
    original = PublishRoute.__call__

    async def spy(self: PublishRoute, scope: Any, receive: Any, send: Any) -> None:
        served.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(PublishRoute, "__call__", spy)
    with TestClient(app, headers={"Authorization": f"Bearer {device_key}"}) as client:
        assert client.post("/v1/readings", json=reading()).status_code == 202
        assert client.post("/v1/readings/batch", json=[reading()]).status_code == 202
        slash = client.post("/v1/readings/", json=reading(), follow_redirects=False)
        assert slash.status_code == 307  # FastAPI's redirect, as before
        assert client.get("/v1/readings").status_code == 405  # FastAPI's answer
        metrics = client.get("/metrics").text
    assert served == ["/v1/readings", "/v1/readings/batch"]
    assert 'iotpipe_ingest_requests_total{method="POST",route="/v1/readings",status="202"} 1.0' in (
        metrics
    )


def test_a_trickled_body_is_408_and_a_client_gone_gets_no_answer(
    app: IngestApp, device_key: str
) -> None:
    route = app.hot_routes["/v1/readings"]
    route.ctx.settings.body_timeout_seconds = 0.05
    headers = [(b"authorization", f"Bearer {device_key}".encode()),
               (b"content-type", b"application/json")]  # fmt: skip
    scope = {"type": "http", "method": "POST", "path": "/v1/readings", "headers": headers}
    sent: list[dict[str, Any]] = []

    async def slow() -> dict[str, Any]:
        await asyncio.sleep(1)
        return {"type": "http.request", "body": b"{}"}

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(route(scope, slow, send))
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]
    sent.clear()
    asyncio.run(route(scope, gone, send))
    assert sent == []
