"""``/v1/jobs`` over the real app with fakes: who may, what is refused (422 with the
field at fault), and a job from 202 to succeeded through the routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.jobs.runner import JobPorts
from ingest.jobs.source import OsemSource
from ingest.jobs.store import MemoryJobStore
from ingest.publisher.memory import MemoryPublisher
from tests.unit.jobs.fake_api import BOX_ID, TEMPERATURE, FakeApi, series
from tests.unit.jobs.harness import job_settings

START = datetime(2026, 1, 1, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "box_id": BOX_ID,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-03T00:00:00Z",
        "source": "http://source.test",
        "sensors": [TEMPERATURE],
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


class Api:
    def __init__(self, client: TestClient, admin: str, device: str, store: MemoryJobStore) -> None:
        self.client = client
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.device = {"Authorization": f"Bearer {device}"}
        self.store = store


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    keys = KeyStore(tmp_path / "keys.json")
    admin = keys.create("ops", "admin")[1]
    device = keys.create("sensebox-1")[1]
    fake = FakeApi(rows={TEMPERATURE: series(START, 12)}, limit=5)
    store = MemoryJobStore()
    ports = JobPorts(store=store, source=lambda url: OsemSource(url, transport=fake.transport()))
    app = create_app(
        settings=job_settings(jobs_page_rows=5, jobs_max_range_days=30),
        publisher=MemoryPublisher(),
        keys=keys,
        jobs=ports,
    )
    with TestClient(app) as client:
        yield Api(client, admin, device, store)


def test_only_admin_keys_may_start_or_see_jobs(api: Api) -> None:
    none = api.client.post("/v1/jobs", json=body())
    assert none.status_code == 401
    assert none.headers["content-type"] == "application/problem+json"
    device = api.client.post("/v1/jobs", json=body(), headers=api.device)
    assert device.status_code == 403
    assert "admin key" in device.json()["detail"]
    assert api.client.get("/v1/jobs", headers=api.device).status_code == 403
    assert api.client.get("/v1/jobs").status_code == 401
    assert api.store.writes == []


@pytest.mark.parametrize(
    ("changes", "pointer", "words"),
    [
        ({"to": "2026-01-01T00:00:00Z"}, "/body/to", "later than 'from'"),
        ({"to": "2025-12-01T00:00:00Z"}, "/body/to", "later than 'from'"),
        ({"to": "2026-03-01T00:00:00Z"}, "/body/to", "longer than 30 days"),
        ({"to": "2999-01-01T00:00:00Z"}, "/body/to", "in the future"),
        ({"from": "2026-01-01T00:00:00"}, "/body/from", "timezone"),
        ({"box_id": "not-a-box"}, "/body/box_id", "pattern"),
        ({"source": "ftp://example.org"}, "/body/source", "URL scheme"),
        ({"source": "not a url"}, "/body/source", "URL"),
        ({"sensors": ["xyz"]}, "/body/sensors/0", "pattern"),
        ({"source": "http://10.0.0.7:8080"}, "/body/source", "not allowed"),
        ({"source": "http://source.test.evil.net"}, "/body/source", "not allowed"),
        ({"source": "https://api.opensensemap.org.evil.net"}, "/body/source", "not allowed"),
        ({"box_id": None}, "/body/box_id", "Field required"),
        ({"color": "red"}, "/body/color", "Extra inputs"),
    ],
)
def test_a_bad_request_is_422_naming_the_field(
    api: Api, changes: dict[str, Any], pointer: str, words: str
) -> None:
    answer = api.client.post("/v1/jobs", json=body(**changes), headers=api.admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert [e["pointer"] for e in errors] == [pointer]
    assert words in errors[0]["message"]


def test_a_job_runs_from_202_to_succeeded_and_can_be_listed(api: Api) -> None:
    started = api.client.post("/v1/jobs", json=body(), headers=api.admin)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] in {"queued", "running", "succeeded"}
    assert job["links"]["self"] == f"/v1/jobs/{job['id']}"
    assert started.headers["location"] == job["links"]["self"]
    assert (job["box_id"], job["from"], job["source"]) == (
        BOX_ID,
        "2026-01-01T00:00:00.000Z",
        "http://source.test",
    )
    runner = api.client.app.state.jobs  # type: ignore[attr-defined]
    api.client.portal.call(runner.join, job["id"])  # type: ignore[union-attr]
    done = api.client.get(job["links"]["self"], headers=api.admin).json()
    assert done["state"] == "succeeded"
    assert done["totals"]["published"] == 12
    assert done["totals"]["progress"] == 1.0
    assert "seen" not in done["sensors"][0]["cursor"]
    listed = api.client.get("/v1/jobs", headers=api.admin).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    # Cancelling a finished job changes nothing.
    cancelled = api.client.delete(job["links"]["self"], headers=api.admin)
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "succeeded")


def test_unknown_jobs_are_404(api: Api) -> None:
    for method in ("GET", "DELETE"):
        answer = api.client.request(method, "/v1/jobs/nope", headers=api.admin)
        assert answer.status_code == 404
        assert answer.json()["detail"] == "no job 'nope'"


def test_a_to_within_the_clock_skew_is_read_as_now_and_a_future_from_is_refused(
    api: Api,
) -> None:
    now = datetime.now(UTC)
    soon = (now + timedelta(minutes=1)).isoformat()
    yesterday = (now - timedelta(days=1)).isoformat()
    answer = api.client.post(
        "/v1/jobs", json=body(to=soon, **{"from": yesterday}), headers=api.admin
    )
    assert answer.status_code == 202, answer.text
    assert datetime.fromisoformat(answer.json()["to"]) <= datetime.now(UTC)
    later = (now + timedelta(minutes=2)).isoformat()
    refused = api.client.post(
        "/v1/jobs", json=body(**{"from": soon, "to": later}), headers=api.admin
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/body/from"


def test_the_default_source_comes_from_the_settings_and_allowed_prefixes_pass(
    api: Api,
) -> None:
    answer = api.client.post("/v1/jobs", json=body(source=None), headers=api.admin)
    assert answer.json()["source"] == "https://api.opensensemap.org"
    below = api.client.post(
        "/v1/jobs", json=body(source="http://source.test/osem/"), headers=api.admin
    )
    assert below.status_code == 202, below.text
    assert below.json()["source"] == "http://source.test/osem"


def test_openapi_describes_the_job_routes(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    post = doc["paths"]["/v1/jobs"]["post"]
    assert post["requestBody"]["content"]["application/json"]["example"]["box_id"] == BOX_ID
    assert set(doc["paths"]["/v1/jobs/{job_id}"]) == {"get", "delete"}
