"""The real ingest app (real Kafka producer, real registry) on a topic of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ingest.auth.keys import KeyStore
from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.devices.world import COMPACTED
from tests.scratch import Scratch
from tests.support import contract_on, free_port

DEVICE = "sensebox-5f2b6c9e"


@dataclass(frozen=True)
class LiveIngest:
    app: FastAPI
    client: TestClient
    topic: str
    contract: Contract
    admin_key: str
    device_key: str


@pytest.fixture(scope="module")
def live_settings(
    endpoints: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    module_scratch: Scratch,
) -> tuple[IngestSettings, Contract, str, str]:
    """Settings for a real ingest on a fresh topic (registered), with an admin and a device
    key; the topic's family (its jobs topic too) is removed after the module."""
    topic = module_scratch.topic("it-ingest", partitions=3, push=True)
    # Its device registry, as `topics ensure` makes it: device states can be set.
    module_scratch.make_topics([f"{topic}-devices"], config=COMPACTED)
    contract = contract_on(topic)
    keys_file = Path(tmp_path_factory.mktemp("keys")) / "keys.json"
    store = KeyStore(keys_file)
    admin_key = store.create("ops", "admin")[1]
    device_key = store.create(DEVICE)[1]
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url=endpoints["registry"],
        topic=topic,
        keys_file=keys_file,
        max_batch_records=500,
        # Jobs and boxes of their own; a job's source is a closed local port, so fuzzing
        # POST /v1/jobs never reaches the real openSenseMap API.
        jobs_topic=f"{topic}-jobs",
        jobs_source_url="http://127.0.0.1:9",
        devices_topic=f"{topic}-devices",
        devices_wait_seconds=1,
    )
    return settings, contract, admin_key, device_key


@pytest.fixture(scope="module")
def live_ingest(live_settings: tuple[IngestSettings, Contract, str, str]) -> Iterator[LiveIngest]:
    settings, contract, admin_key, device_key = live_settings
    app = build_app(settings)
    with TestClient(app) as client:
        yield LiveIngest(app, client, settings.topic, contract, admin_key, device_key)


def shipped_env(settings: IngestSettings, **extra: str) -> dict[str, str]:
    """The environment for ``iotpipe ingest`` as shipped (a process of its own) on the
    live test's Kafka, registry, topics and keys, plus ``extra`` settings."""
    return {
        **os.environ,
        "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": str(settings.kafka_bootstrap_servers),
        "IOTPIPE_REGISTRY_URL": str(settings.registry_url),
        "IOTPIPE_INGEST_TOPIC": settings.topic,
        "IOTPIPE_INGEST_KEYS_FILE": str(settings.keys_file),
        "IOTPIPE_INGEST_JOBS_TOPIC": settings.jobs_topic,
        "IOTPIPE_INGEST_JOBS_SOURCE_URL": settings.jobs_source_url,
        "IOTPIPE_INGEST_DEVICES_TOPIC": settings.devices_topic,
        "IOTPIPE_INGEST_DEVICES_WAIT_SECONDS": "1",
        **extra,
    }


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    base: str
    admin_key: str
    device_key: str

    def workers(self) -> list[int]:
        """The supervisor's children that serve (the spawn context adds a resource tracker,
        which does not run ``ingest.workers``)."""
        found = []
        for line in subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                   text=True, check=False).stdout.split():  # fmt: skip
            cmdline = Path(f"/proc/{line}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(line))
        return found


def start_ingest(
    settings: IngestSettings,
    admin_key: str = "",
    device_key: str = "",
    workers: int = 2,
    **extra: str,
) -> Served:
    """``iotpipe ingest --workers N`` as shipped on the live test's settings (plus ``extra``
    settings, as ``shipped_env`` takes them), once it is ready and every worker is up."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "ingest", "--workers", str(workers)],
        env=shipped_env(settings, IOTPIPE_INGEST_PORT=str(port), **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    served = Served(process, f"http://127.0.0.1:{port}", admin_key, device_key)
    deadline = time.monotonic() + 90
    while not (ready(served.base) and len(served.workers()) == workers):
        assert process.poll() is None, "ingest exited"
        assert time.monotonic() < deadline, f"ingest did not come up with {workers} workers"
        time.sleep(0.2)
    return served


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
