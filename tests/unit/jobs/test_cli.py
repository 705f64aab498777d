"""``iotpipe jobs`` against the real app (with fakes behind it) through a TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.jobs.runner import JobPorts
from ingest.jobs.source import OsemSource
from ingest.jobs.store import MemoryJobStore
from ingest.publisher.memory import MemoryPublisher
from iotpipe.cli import app as cli
from iotpipe.cli import jobs as jobs_cli
from tests.unit.jobs.fake_api import BOX_ID, TEMPERATURE, FakeApi, Fault, series
from tests.unit.jobs.harness import job_settings

START = datetime(2026, 1, 1, tzinfo=UTC)
RANGE = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-03T00:00:00Z"]


@pytest.fixture
def fake() -> FakeApi:
    return FakeApi(rows={TEMPERATURE: series(START, 12)}, limit=5)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    store = KeyStore(tmp_path / "keys.json")
    return {"admin": store.create("ops", "admin")[1], "device": store.create("box-1")[1]}


@pytest.fixture
def ingest(
    fake: FakeApi, keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FastAPI]:
    ports = JobPorts(
        store=MemoryJobStore(), source=lambda url: OsemSource(url, transport=fake.transport())
    )
    app = create_app(
        settings=job_settings(jobs_page_rows=5, jobs_retry_base_seconds=0.01),
        publisher=MemoryPublisher(),
        keys=KeyStore(tmp_path / "keys.json"),
        jobs=ports,
    )

    def client(url: str, key: str | None) -> httpx.Client:
        assert url == "http://ingest.test:8000"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return cast(httpx.Client, TestClient(app, headers=headers))  # an httpx.Client

    monkeypatch.setattr(jobs_cli, "_client", client)
    monkeypatch.setenv("IOTPIPE_INGEST_URL", "http://ingest.test:8000")
    yield app


def run(*args: str, key: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["jobs", *args, "--key", key])
    return result.exit_code, result.output, result.exception


def test_start_wait_shows_progress_and_the_outcome(ingest: FastAPI, keys: dict[str, str]) -> None:
    code, output, _ = run("start", BOX_ID, *RANGE, "--wait", "--interval", "0.1", key=keys["admin"])
    assert code == 0, output
    assert "succeeded" in output
    assert "published 12" in output
    job_id = output.split("job ", 1)[1].split(":", 1)[0]
    code, output, _ = run("status", job_id, "--json", key=keys["admin"])
    assert (code, json.loads(output)["totals"]["rows_read"]) == (0, 12)
    code, output, _ = run("list", key=keys["admin"])
    assert code == 0
    assert job_id in output
    code, output, _ = run("cancel", job_id, key=keys["admin"])
    assert (code, output.strip()) == (0, f"job {job_id} succeeded")


def test_a_failed_job_exits_1_with_the_reason(
    ingest: FastAPI, fake: FakeApi, keys: dict[str, str]
) -> None:
    fake.faults = [Fault("/data/", 500, times=100)]
    code, output, _ = run("start", BOX_ID, *RANGE, "--wait", "--interval", "0.1", key=keys["admin"])
    assert code == 1
    assert "failed" in output
    assert "HTTP 500" in output


def test_refusals_are_reported_with_the_field_at_fault(
    ingest: FastAPI, keys: dict[str, str]
) -> None:
    _, _, refused = run("list", key=keys["device"])
    assert isinstance(refused, jobs_cli.IngestRequestFailed)
    assert "HTTP 403" in str(refused)
    _, _, invalid = run("start", "nope", *RANGE, key=keys["admin"])
    assert isinstance(invalid, jobs_cli.IngestRequestFailed)
    assert "HTTP 422" in str(invalid)
    assert "/body/box_id" in str(invalid)
