"""The real ingest app (real Kafka producer, real registry) on a topic of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ingest.auth.keys import KeyStore
from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.devices.world import COMPACTED
from tests.scratch import Scratch
from tests.support import contract_on

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
