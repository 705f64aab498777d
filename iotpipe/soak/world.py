"""The soak's own corner of a stack: a fresh topic (and its DLQ), database, admin key and
the environment ingest and sink run with; all removed afterwards.

Own names rather than the defaults, so the soak can share a running stack with tests and
the demo without reading or writing their data.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
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

__all__ = ["SoakWorld", "soak_world"]

PARTITIONS = 6  # as the benchmark's topics: the sink's parallelism is per partition


@dataclass(frozen=True)
class SoakWorld:
    endpoints: dict[str, str]
    topic: str
    database: str
    key: str
    workdir: Path
    ingest_port: int
    sink_health_port: int

    @property
    def group_id(self) -> str:
        return f"{self.topic}-sink"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_health_port}"

    def _common(self, keys_file: Path) -> dict[str, str]:
        return {
            "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": self.endpoints["kafka"],
            "IOTPIPE_REGISTRY_URL": self.endpoints["registry"],
            "IOTPIPE_MONGODB_URI": self.endpoints["mongodb"],
            "IOTPIPE_INGEST_KEYS_FILE": str(keys_file),
        }

    def ingest_env(self) -> dict[str, str]:
        return {
            **self._common(self.workdir / "keys.json"),
            "IOTPIPE_INGEST_TOPIC": self.topic,
            "IOTPIPE_INGEST_PORT": str(self.ingest_port),
        }

    def sink_env(self) -> dict[str, str]:
        return {
            **self._common(self.workdir / "keys.json"),
            "IOTPIPE_SINK_TOPIC": self.topic,
            "IOTPIPE_SINK_DLQ_TOPIC": f"{self.topic}.dlq",
            "IOTPIPE_SINK_GROUP_ID": self.group_id,
            "IOTPIPE_SINK_DATABASE": self.database,
            "IOTPIPE_SINK_HEALTH_PORT": str(self.sink_health_port),
        }


@contextmanager
def soak_world(endpoints: dict[str, str], *, keep_logs: Path | None = None) -> Iterator[SoakWorld]:
    """Create the topics, register the contract on them, make a key; drop it all at the
    end. Process logs are kept in ``keep_logs`` when given."""
    tag = uuid.uuid4().hex[:8]
    topic = f"soak-{tag}"
    admin = AdminClient({"bootstrap.servers": endpoints["kafka"]})
    new = [
        NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1),
        NewTopic(f"{topic}.dlq", num_partitions=1, replication_factor=1),
    ]
    for future in admin.create_topics(new).values():
        future.result(30)
    workdir = keep_logs or Path(tempfile.mkdtemp(prefix="iotpipe-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    world = SoakWorld(
        endpoints=endpoints,
        topic=topic,
        database=f"soak_{tag}",
        key=KeyStore(workdir / "keys.json").create("soak", "admin")[1],
        workdir=workdir,
        ingest_port=free_port(),
        sink_health_port=free_port(),
    )
    try:
        SchemaRegistry(endpoints["registry"]).push(Contract.load().on_topic(topic))
        yield world
    finally:
        client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
        client.drop_database(world.database)
        client.close()
        for future in admin.delete_topics([topic, f"{topic}.dlq"]).values():
            future.result(30)
        (workdir / "keys.json").unlink(missing_ok=True)
        if keep_logs is None:
            shutil.rmtree(workdir, ignore_errors=True)
