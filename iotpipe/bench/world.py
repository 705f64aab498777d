"""What the benchmark and the soak set up on a running stack for their own runs: topics
(each with its DLQ) carrying the contract's subjects, databases, an admin key and the
environment ingest and the sink run with (``run_world``). Own names, so a run shares a
stack with tests and the demo without reading or writing their data."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pymongo import MongoClient

from ingest.auth.keys import KeyStore
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.processes import free_port

__all__ = [
    "PARTITIONS",
    "RunWorld",
    "create_topics",
    "delete_topics",
    "ingest_env",
    "run_world",
    "service_env",
    "sink_env",
]

PARTITIONS = 6  # the sink's parallelism is per partition


def create_topics(endpoints: dict[str, str], topics: Iterable[str]) -> list[str]:
    """Create each topic (``PARTITIONS``) and its ``.dlq`` (one partition), and register the
    contract on each; returns every topic created."""
    names = list(topics)
    new = [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in names]
    new += [NewTopic(f"{t}.dlq", num_partitions=1, replication_factor=1) for t in names]
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    for future in admin.create_topics(new).values():
        future.result(30)
    contract, registry = Contract.load(), SchemaRegistry(endpoints["registry"])
    for topic in names:
        registry.push(contract.on_topic(topic))
    return [n.topic for n in new]


def delete_topics(endpoints: dict[str, str], topics: Iterable[str]) -> None:
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    for future in admin.delete_topics(list(topics)).values():
        future.result(30)


def service_env(endpoints: dict[str, str], keys_file: Path) -> dict[str, str]:
    """What ingest and the sink share: the stack's endpoints and the API key file."""
    return {
        "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"],
        "IOTPIPE_REGISTRY_URL": endpoints["registry"],
        "IOTPIPE_MONGODB_URI": endpoints["mongodb"],
        "IOTPIPE_INGEST_KEYS_FILE": str(keys_file),
    }


def ingest_env(common: dict[str, str], topic: str, port: int) -> dict[str, str]:
    return {**common, "IOTPIPE_INGEST_TOPIC": topic, "IOTPIPE_INGEST_PORT": str(port)}


def sink_env(
    common: dict[str, str], topic: str, database: str, health_port: int | None = None
) -> dict[str, str]:
    """The sink on ``topic`` (group ``<topic>-sink``, DLQ ``<topic>.dlq``) into ``database``."""
    return {
        **common,
        "IOTPIPE_SINK_TOPIC": topic,
        "IOTPIPE_SINK_DLQ_TOPIC": f"{topic}.dlq",
        "IOTPIPE_SINK_GROUP_ID": f"{topic}-sink",
        "IOTPIPE_SINK_DATABASE": database,
        "IOTPIPE_SINK_HEALTH_PORT": str(health_port if health_port is not None else free_port()),
    }


@dataclass(frozen=True)
class RunWorld:
    """A run's corner of the stack, as ``run_world`` made it."""

    endpoints: dict[str, str]
    workdir: Path  # the run's files: the key file, the services' logs
    key: str  # an admin key, in ``keys_file``

    @property
    def keys_file(self) -> Path:
        return self.workdir / "keys.json"

    def env(self) -> dict[str, str]:
        """What ingest and the sink share (``service_env``)."""
        return service_env(self.endpoints, self.keys_file)


@contextmanager
def run_world(
    endpoints: dict[str, str],
    *,
    owner: str,
    topics: Iterable[str],
    databases: Iterable[str],
    workdir: Path | None = None,
    keep_workdir: bool = False,
) -> Iterator[RunWorld]:
    """Create the topics (``create_topics``) and an admin key named ``owner`` in
    ``workdir`` (a new temporary folder unless given); at the end, drop the databases,
    delete the topics and the key file, and remove the folder unless ``keep_workdir``."""
    databases = list(databases)
    created = create_topics(endpoints, topics)
    folder = workdir or Path(tempfile.mkdtemp(prefix=f"iotpipe-{owner}-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key = KeyStore(folder / "keys.json").create(owner, "admin")[1]
        yield RunWorld(endpoints=endpoints, workdir=folder, key=key)
    finally:
        client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
        for database in databases:
            client.drop_database(database)
        client.close()
        delete_topics(endpoints, created)
        (folder / "keys.json").unlink(missing_ok=True)
        if not keep_workdir:
            shutil.rmtree(folder, ignore_errors=True)
