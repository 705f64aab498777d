"""One scenario's pipeline: its own topics, database and group on the private stack,
``iotpipe ingest`` and ``iotpipe sink`` as real processes that can be killed.

Each scenario gets fresh names so its counts are its own; processes are started with
``start_new_session`` so a SIGKILL hits exactly the process meant. A process runs the
code iotpipe itself was imported from, or (``code``) another copy of it: a folder
holding ``iotpipe``, ``ingest``, ``sink`` and ``generated``, put first on its path (a
rollout's new version, :mod:`iotpipe.chaos.rollout.version`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ingest.auth.keys import KeyStore
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.kafka_admin import KafkaTopicAdmin
from iotpipe.processes import free_port, wait_http
from iotpipe.topics import (
    cluster_topic_settings,
    devices_topic_spec,
    ensure_topics,
    jobs_topic_spec,
    pipeline_topics,
)

__all__ = ["Pipeline", "Proc", "spread"]

PARTITIONS = 6


@dataclass
class Proc:
    """A running iotpipe service: the process, its log and the URL that says it is ready."""

    args: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str
    process: subprocess.Popen[bytes] | None = None
    code: Path | None = None  # the copy of the code it runs (None: iotpipe's own)

    def start(self, timeout: float = 120) -> Proc:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "iotpipe", *self.args],
                env=self.env,
                cwd=self.code,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_http(self.ready_url, self.process, self.log, timeout=timeout)
        return self

    @property
    def url(self) -> str:
        """Where it answers: the ready URL without its path."""
        return self.ready_url.rsplit("/", 1)[0]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no batch finished, no offset committed, no goodbye to the group."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def health(self) -> dict[str, Any]:
        try:
            body: dict[str, Any] = httpx.get(self.ready_url, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return {}
        return body

    def assigned(self) -> int:
        """Partitions this sink holds now (0 when it does not answer)."""
        return int(self.health().get("assigned_partitions", 0))


def spread(sinks: list[Proc]) -> bool:
    """Every sink holds partitions and together all of them: the group has settled."""
    counts = [sink.assigned() for sink in sinks]
    return all(counts) and sum(counts) == PARTITIONS


@dataclass
class Pipeline:
    """Names and processes of one scenario; ``close`` stops every process it started."""

    name: str
    endpoints: dict[str, str]
    workdir: Path
    brokers: int = 1  # the stack's size: the topics' replication follows it
    ingest_workers: int | None = None  # None: ingest's default (one per core)
    devices: int = 8
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    keys: dict[str, str] = field(default_factory=dict)
    ingests: list[Proc] = field(default_factory=list)  # replicas, stopped ones included
    sinks: list[Proc] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return f"chaos-{self.name}-{self.tag}"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    @property
    def group_id(self) -> str:
        return f"chaos-{self.name}-{self.tag}"

    @property
    def database(self) -> str:
        return f"chaos_{self.name.replace('-', '_')}_{self.tag}"

    @property
    def base_url(self) -> str:
        """The first ingest replica's URL."""
        return self.ingests[0].url

    def prepare(self) -> None:
        """Topics (6 partitions and the DLQ, replicated as the cluster profile says for
        the stack's size), the contract's subjects, device keys."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        admin = KafkaTopicAdmin(self.endpoints["kafka"], timeout=60)
        durability = cluster_topic_settings(self.brokers)
        copies = {
            "replication_factor": durability.replication_factor,
            "min_insync_replicas": durability.min_insync_replicas,
        }
        specs = [
            *pipeline_topics(topic=self.topic, partitions=PARTITIONS, **copies),
            devices_topic_spec(topic=f"{self.topic}-devices", **copies),
            jobs_topic_spec(topic=f"{self.topic}-jobs", **copies),
        ]
        ensure_topics(admin, specs)
        SchemaRegistry(self.endpoints["registry"]).push(Contract.load().on_topic(self.topic))
        store = KeyStore(self.workdir / "keys.json")
        for i in range(self.devices):
            device = f"chaos-{self.tag}-{i:02d}"
            self.keys[device] = store.create(device)[1]

    def _env(self, code: Path | None) -> dict[str, str]:
        env = {
            **os.environ,
            "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": self.endpoints["kafka"],
            "IOTPIPE_REGISTRY_URL": self.endpoints["registry"],
            "IOTPIPE_MONGODB_URI": self.endpoints["mongodb"],
        }
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        return env

    def start_ingest(self, code: Path | None = None) -> Proc:
        """Another ingest replica, on a port of its own, started (``code``: see above)."""
        port = free_port()
        env = {
            **self._env(code),
            "IOTPIPE_INGEST_TOPIC": self.topic,
            "IOTPIPE_INGEST_KEYS_FILE": str(self.workdir / "keys.json"),
            "IOTPIPE_INGEST_DEVICES_TOPIC": f"{self.topic}-devices",
            "IOTPIPE_INGEST_JOBS_TOPIC": f"{self.topic}-jobs",
            "IOTPIPE_INGEST_DEVICES_WAIT_SECONDS": "5",
            "IOTPIPE_INGEST_RETRY_AFTER_SECONDS": "1",
        }
        log = self.workdir / f"ingest-{len(self.ingests)}.log"
        ingest = Proc(
            [
                "ingest",
                "--port",
                str(port),
                *(["--workers", str(self.ingest_workers)] if self.ingest_workers else []),
            ],
            env,
            log,
            f"http://127.0.0.1:{port}/readyz",
            code=code,
        )
        self.ingests.append(ingest)
        return ingest.start()

    def new_sink(self, code: Path | None = None) -> Proc:
        """A sink member of this scenario's group (not started yet; ``code``: see above)."""
        port = free_port()
        env = {
            **self._env(code),
            "IOTPIPE_SINK_TOPIC": self.topic,
            "IOTPIPE_SINK_DLQ_TOPIC": self.dlq_topic,
            "IOTPIPE_SINK_GROUP_ID": self.group_id,
            "IOTPIPE_SINK_DATABASE": self.database,
            "IOTPIPE_SINK_DEVICES_MIRROR": "false",
            "IOTPIPE_SINK_RETRY_MAX_SECONDS": "2",
            "IOTPIPE_SINK_HEALTH_PORT": str(port),
        }
        log = self.workdir / f"sink-{len(self.sinks)}.log"
        sink = Proc(["sink"], env, log, f"http://127.0.0.1:{port}/healthz", code=code)
        self.sinks.append(sink)
        return sink

    def close(self) -> None:
        for proc in [*self.sinks, *self.ingests]:
            proc.stop()
