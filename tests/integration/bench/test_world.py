"""The bench's and the soak's world (iotpipe.bench.world.run_world) on the real stack:
topics with their DLQs and the contract's subjects, an admin key ingest accepts, the
services' environment; and nothing of it left afterwards but the folder asked for."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from ingest.auth.keys import KeyStore
from iotpipe.bench.world import PARTITIONS, run_world
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry

pytestmark = [pytest.mark.integration]


def _topics(endpoints: dict[str, str]) -> dict[str, int]:
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    return {name: len(t.partitions) for name, t in admin.list_topics(timeout=30).topics.items()}


@pytest.mark.parametrize("keep", [False, True], ids=["temporary", "kept"])
def test_the_world_comes_up_and_goes(endpoints: dict[str, str], tmp_path: Path, keep: bool) -> None:
    tag = uuid.uuid4().hex[:8]
    topic, database = f"it-world-{tag}", f"it_world_{tag}"
    subjects = [t.subject for t in Contract.load().on_topic(topic).record_types]
    registry = SchemaRegistry(endpoints["registry"])
    mongo: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
    try:
        with run_world(
            endpoints, owner="it", topics=[topic], databases=[database],
            workdir=tmp_path / "run" if keep else None, keep_workdir=keep,
        ) as world:  # fmt: skip
            assert _topics(endpoints).items() >= {topic: PARTITIONS, f"{topic}.dlq": 1}.items()
            assert all(registry.exists(subject) for subject in subjects)
            principal = KeyStore(world.keys_file).verify(world.key)
            assert principal is not None
            assert (principal.device_id, principal.role) == ("*", "admin")
            assert world.env()["IOTPIPE_INGEST_KEYS_FILE"] == str(world.keys_file)
            assert world.env()["IOTPIPE_KAFKA_BOOTSTRAP_SERVERS"] == endpoints["kafka"]
            mongo[database]["readings"].insert_one({"_id": 1})  # as a run's sink would
            workdir = world.workdir
            (workdir / "ingest.log").write_text("a service's log\n")
        assert workdir.exists() == keep
        if keep:
            assert [p.name for p in workdir.iterdir()] == ["ingest.log"]  # no key file
        assert database not in mongo.list_database_names()
        assert not {topic, f"{topic}.dlq"} & _topics(endpoints).keys()
    finally:
        mongo.close()
        for subject in subjects:  # the registry keeps them (the bench's and soak's too)
            registry.delete_subject(subject)
