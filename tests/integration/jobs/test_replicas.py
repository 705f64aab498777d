"""Jobs across ingest replicas: three ``iotpipe ingest`` processes (names a, b, c) on one
readings topic and one jobs topic, a job started on a, listed from b (HTTP and the CLI);
a killed with SIGKILL half-way, b and c race for the job, one resumes it, every reading
is on the topic once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.ingest.conftest import ready, shipped_env
from tests.integration.jobs.conftest import Pipeline
from tests.integration.jobs.test_backfill import topic_readings
from tests.support import free_port, run_cli
from tests.unit.jobs.fake_api import BOX_ID, TEMPERATURE, FakeApi, ms, series

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
ROWS = 900  # one a minute: 15 hours, read in pages of 0.1 day (2.4 hours)
START = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
LEASE = 5.0  # long enough that a busy machine never starves a live owner past it


def replica(pipeline: Pipeline, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    extra = {
        "IOTPIPE_INGEST_PORT": str(port),
        "IOTPIPE_INGEST_JOBS_INSTANCE": name,
        "IOTPIPE_INGEST_JOBS_LEASE_SECONDS": str(LEASE),
        "IOTPIPE_INGEST_JOBS_WINDOW_DAYS": "0.1",
        "IOTPIPE_INGEST_JOBS_ALLOWED_SOURCES": '["http://127.0.0.1:"]',
        "IOTPIPE_INGEST_JOBS_SOURCE_TIMEOUT_SECONDS": "30",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "ingest", "--workers", "1"],
        env=shipped_env(pipeline.settings, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: SIGKILL takes the supervisor and worker
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def replicas(pipeline: Pipeline) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], str]]]:
    started = {name: replica(pipeline, name) for name in ("a", "b", "c")}
    try:
        deadline = time.monotonic() + 90
        for name, (process, base) in started.items():
            while not ready(base):
                assert process.poll() is None, f"replica {name} exited"
                assert time.monotonic() < deadline, f"replica {name} did not come up"
                time.sleep(0.2)
        yield started
    finally:
        for process, _ in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in started.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def jobs_records(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every record of the jobs topic, in log order (one partition)."""
    topic = pipeline.settings.jobs_topic
    consumer = Consumer(
        {"bootstrap.servers": pipeline.endpoints["kafka"], "group.id": uuid.uuid4().hex}
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        records: list[dict[str, Any]] = []
        while low < high:
            message = consumer.poll(10)
            assert message is not None and message.error() is None
            records.append(json.loads(message.value() or b"null"))
            low = (message.offset() or 0) + 1
        return records
    finally:
        consumer.close()


def test_a_job_is_seen_from_every_replica_and_resumed_once_when_its_owner_dies(
    pipeline: Pipeline, replicas: dict[str, tuple[subprocess.Popen[bytes], str]]
) -> None:
    rows = series(START, ROWS)
    fake = FakeApi(rows={TEMPERATURE: rows}, gate=threading.Event(), gate_after=2)
    headers = {"Authorization": f"Bearer {pipeline.admin_key}"}
    a, b, c = (replicas[n] for n in "abc")
    body = {"box_id": BOX_ID, "from": ms(START), "to": rows[-1]["createdAt"]}
    with fake.serve() as url:
        started = httpx.post(
            f"{a[1]}/v1/jobs", json={**body, "source": url, "sensors": [TEMPERATURE]},
            headers=headers, timeout=30,
        )  # fmt: skip
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        assert fake.blocked.wait(60), "the job never asked for its third page"

        # (a) Seen from b, over HTTP and with the CLI, owned by a, with its progress.
        seen = httpx.get(f"{b[1]}/v1/jobs", headers=headers, timeout=30).json()["jobs"]
        assert [(j["id"], j["owner"], j["state"]) for j in seen] == [(job_id, "a", "running")]
        assert 0 < seen[0]["totals"]["published"] < ROWS  # two pages acknowledged and saved
        assert seen[0]["heartbeat_at"] is not None
        env = {**os.environ, "IOTPIPE_INGEST_URL": b[1], "IOTPIPE_ADMIN_KEY": pipeline.admin_key}
        listed = run_cli("jobs", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert [(j["id"], j["owner"]) for j in json.loads(listed.stdout)] == [(job_id, "a")]
        table = run_cli("jobs", "list", env=env)
        assert " a " in table.stdout and job_id in table.stdout, table.stdout

        # (b) a dies; b and c both watch its lease run out; one of them resumes the job.
        os.killpg(a[0].pid, signal.SIGKILL)
        a[0].wait(10)
        fake.gate.set()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while True:
            job = httpx.get(f"{c[1]}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
            if job["state"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, f"not finished: {job}"
            time.sleep(0.3)
    assert job["state"] == "succeeded", job["reason"]
    assert job["owner"] in ("b", "c")
    from_b = httpx.get(f"{b[1]}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
    assert (from_b["state"], from_b["owner"], from_b["epoch"]) == ("succeeded", job["owner"], 2)

    # Exactly one claim won: after a's records, only the winner wrote at epoch 2.
    records = [r for r in jobs_records(pipeline) if r["id"] == job_id]
    assert {r["owner"] for r in records if r["epoch"] == 1} == {"a"}
    claims = [r for r in records if r["epoch"] == 2]
    assert claims[0]["owner"] == job["owner"]  # the first claim in the log is the winner
    winner = [r for r in claims if r["owner"] == job["owner"]]
    assert [r["state"] for r in winner][-1] == "succeeded"
    losers = [r for r in claims if r["owner"] != job["owner"]]
    assert all(r["state"] == "queued" for r in losers)  # a losing claim, nothing after it

    readings = topic_readings(pipeline)
    ids = Counter(str(r.event_id) for r in readings)
    assert len(ids) == ROWS  # every row of the range...
    assert max(ids.values()) == 1  # ...once: the resumed job went on from a's cursor
    assert job["totals"]["published"] == ROWS
