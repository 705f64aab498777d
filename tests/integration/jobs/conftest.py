"""A fresh readings topic (registered), a jobs topic of its own and an admin key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.auth.keys import KeyStore
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.scratch import Scratch
from tests.support import contract_on


@dataclass(frozen=True)
class Pipeline:
    settings: IngestSettings
    contract: Contract
    admin_key: str
    endpoints: dict[str, str]


@pytest.fixture
def pipeline(endpoints: dict[str, str], tmp_path: Path, scratch: Scratch) -> Pipeline:
    topic = scratch.topic("it-jobs", partitions=3, push=True)  # and its .jobs, at the end
    contract = contract_on(topic)
    keys = KeyStore(tmp_path / "keys.json")
    admin_key = keys.create("ops", "admin")[1]
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url=endpoints["registry"],
        topic=topic,
        keys_file=tmp_path / "keys.json",
        jobs_topic=f"{topic}.jobs",
        jobs_instance="it-ingest-a",
        jobs_allowed_sources=["http://127.0.0.1:"],  # the local source, any port
        jobs_source_timeout_seconds=0.5,
        jobs_retry_base_seconds=0.05,
    )
    return Pipeline(settings, contract, admin_key, endpoints)
