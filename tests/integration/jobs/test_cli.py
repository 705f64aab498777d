"""``iotpipe jobs`` as a user runs it: a child process talking HTTP to a real ingest
(uvicorn, real Kafka) that backfills from the local openSenseMap-shaped server."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from ingest.main import build_app
from tests.integration.jobs.conftest import Pipeline
from tests.support import run_cli
from tests.unit.jobs.fake_api import BOX_ID, TEMPERATURE, FakeApi, ms, series

pytestmark = pytest.mark.timeout(180)
START = (datetime.now(UTC) - timedelta(days=10)).replace(second=0, microsecond=0)


@pytest.fixture
def ingest_url(pipeline: Pipeline) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(build_app(pipeline.settings), host="127.0.0.1", port=0, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # bounded by the test's timeout
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_start_wait_status_and_list_from_the_command_line(
    pipeline: Pipeline, ingest_url: str
) -> None:
    fake = FakeApi(rows={TEMPERATURE: series(START, 12_000)})
    env = {
        **os.environ,
        "IOTPIPE_INGEST_URL": ingest_url,
        "IOTPIPE_ADMIN_KEY": pipeline.admin_key,
    }
    with fake.serve() as source:
        until = ms(START + timedelta(days=9))
        started = run_cli(
            "jobs", "start", BOX_ID, "--from", ms(START), "--to", until, "--source", source,
            "--sensor", TEMPERATURE, "--wait", "--interval", "0.2", env=env, timeout=120,
        )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "succeeded" in started.stdout
    assert "published 12000" in started.stdout
    assert "Temperatur" in started.stderr  # the progress bar, on stderr
    job_id = started.stdout.split("job ", 1)[1].split(":", 1)[0]
    status = run_cli("jobs", "status", job_id, "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["totals"]["published"] == 12_000
    listed = run_cli("jobs", "list", "--json", env=env)
    assert [j["id"] for j in json.loads(listed.stdout)] == [job_id]
    refused = run_cli("jobs", "list", env={**env, "IOTPIPE_ADMIN_KEY": "iotp_nope"})
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
