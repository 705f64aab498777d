"""``iotpipe ingest --workers 2`` as shipped: worker processes with sockets of their own,
behind one supervisor, on the real stack. Whichever worker a connection lands on, the
metrics count every request and the backfill jobs are the same; stopping or killing the
supervisor leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.ingest.conftest import Served, ready, shipped_env, start_ingest
from tests.support import stop
from tests.unit.ingest.conftest import reading

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DEVICE = "sensebox-5f2b6c9e"


@pytest.fixture
def served(live_settings: tuple[IngestSettings, Contract, str, str]) -> Iterator[Served]:
    settings, _, admin_key, device_key = live_settings
    served = start_ingest(settings, admin_key, device_key)
    try:
        yield served
    finally:
        stop(served.process, 30)


def _accepted_count(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for line in text.splitlines():
        if (
            line.startswith("iotpipe_ingest_requests_total{")
            and 'route="/v1/readings"' in line
            and 'status="202"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_every_request_whichever_worker_answers(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.device_key}"}
    for _ in range(30):  # a connection each: the kernel spreads them over the workers
        response = httpx.post(f"{served.base}/v1/readings", json=reading(), headers=headers)
        assert response.status_code == 202, response.text
    scrapes = {_accepted_count(served.base) for _ in range(8)}  # reach both workers
    assert scrapes == {30.0}


def test_every_worker_shows_the_same_jobs(served: Served) -> None:
    """Jobs run in the primary worker; the other forwards job requests to it."""
    admin = {"Authorization": f"Bearer {served.admin_key}"}
    spec = {"box_id": "5a1100000000000000ffffff", "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z"}  # fmt: skip
    started = httpx.post(f"{served.base}/v1/jobs", json=spec, headers=admin, timeout=30)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    for _ in range(8):  # new connections: both workers answer some
        listed = httpx.get(f"{served.base}/v1/jobs", headers=admin, timeout=30)
        assert listed.status_code == 200, listed.text
        assert job_id in {job["id"] for job in listed.json()["jobs"]}
        one = httpx.get(f"{served.base}/v1/jobs/{job_id}", headers=admin, timeout=30)
        assert one.status_code == 200, one.text
    device = {"Authorization": f"Bearer {served.device_key}"}
    refused = httpx.get(f"{served.base}/v1/jobs", headers=device, timeout=30)
    assert refused.status_code == 403  # the primary's answer, whoever forwarded it


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_no_worker_outlives_the_supervisor(
    live_settings: tuple[IngestSettings, Contract, str, str], how: signal.Signals
) -> None:
    settings, _, admin_key, device_key = live_settings
    served = start_ingest(settings, admin_key, device_key)
    workers = served.workers()
    os.kill(served.process.pid, how)
    served.process.wait(timeout=60)
    deadline = time.monotonic() + 40
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} outlived the supervisor"
        time.sleep(0.2)
    assert not ready(served.base)


def test_a_port_another_server_answers_on_is_refused(
    live_settings: tuple[IngestSettings, Contract, str, str],
) -> None:
    """SO_REUSEPORT would let a second ingest share the port silently: it is refused."""
    settings, _, admin_key, device_key = live_settings
    first = start_ingest(settings, admin_key, device_key)
    try:
        port = first.base.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "iotpipe", "ingest", "--workers", "2"],
            env=shipped_env(settings, IOTPIPE_INGEST_PORT=str(int(port))),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        assert f"127.0.0.1:{port} is in use" in second.stderr
    finally:
        stop(first.process, 30)
