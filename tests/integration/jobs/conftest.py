"""A fresh readings topic (registered), a jobs topic of its own and an admin key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from ingest.auth.keys import KeyStore
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from tests.support import contract_on


@dataclass(frozen=True)
class Pipeline:
    settings: IngestSettings
    contract: Contract
    admin_key: str
    endpoints: dict[str, str]


@pytest.fixture
def pipeline(endpoints: dict[str, str], tmp_path: Path) -> Pipeline:
    topic = f"it-jobs-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    contract = contract_on(topic)
    SchemaRegistry(endpoints["registry"]).push(contract)
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
