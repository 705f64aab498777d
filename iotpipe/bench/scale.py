"""``iotpipe bench --scale``: how the sink and ingest scale out on a 3-broker cluster.

A private stack (its own state folder and ports; three KRaft nodes, the registry and the
database) is started, measured and wiped, so the developer's stack is never touched:

- limits: the bare producer (ingest's codec and producer settings, acks=all, no HTTP)
  filling a topic of ``prefill`` readings (6 partitions, replication factor 3,
  min.insync.replicas 2), and bare database inserts of the sink's documents;
- the sink: 1, 2 and 3 real ``iotpipe sink`` processes in one consumer group (each point
  a fresh group and database) draining that topic; documents counted in the database;
- ingest: ``iotpipe ingest --workers K`` for 1, 2 and one per core (and 4 on two cores,
  to show oversubscription), loaded with the bench's load generator: batches of 1,000 and
  single readings.

Each point records the CPU of each process group (Kafka, registry, database, sink,
ingest, the load generator, the rest of the machine) over its stretch, so the reading can
name the resource that saturates. Nothing here asserts a timing.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition
from pymongo import MongoClient
from rich.console import Console

from ingest.auth.keys import KeyStore
from ingest.main import ingest_producer_config
from ingest.settings import IngestSettings
from iotpipe.bench import limits, phases, world
from iotpipe.bench.cpu import CpuMeter, Group
from iotpipe.bench.loadgen import LoadResult, prepare, run_load
from iotpipe.bench.processes import metrics, serve
from iotpipe.bench.workload import batch_body, single_body
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.errors import ConfigError, ServiceFailed
from iotpipe.kafka_admin import KafkaTopicAdmin
from iotpipe.processes import free_port, wait_http
from iotpipe.stack.manager import Stack
from iotpipe.stack.private import private_stack as fresh_stack
from iotpipe.stack.settings import default_state_dir
from iotpipe.topics import TopicSettings, ensure_topics, pipeline_topics

__all__ = [
    "ScalePlan",
    "build_plan",
    "default_scale_state_dir",
    "drain_rates",
    "private_stack",
    "run_scale",
    "worker_counts",
]

console = Console(stderr=True)

SINK_REPLICAS = (1, 2, 3)
_WRITTEN_READINGS = 'iotpipe_sink_written_total{collection="readings"}'
BATCH_SIZE = 1000
BATCH_CONNECTIONS = 8  # as many as 4 workers can each hold two of
SINGLE_CONNECTIONS = 32
IDLE_SECONDS = 5.0  # the stack's own CPU with nothing to do
WARMUP_SECONDS = 2.0  # every ingest worker up and connected to each broker before a phase
STEADY_FROM_SHARE = 0.2  # a steady rate needs this share of the documents after the join
STEADY_UNTIL = 0.95  # ... and ends at this quantile (a replica done early idles after)


@dataclass(frozen=True)
class ScalePlan:
    seconds: float  # per ingest phase (load generator)
    prefill: int  # readings in the sink's topic (the bare producer writes them)
    sink_replicas: tuple[int, ...]
    ingest_workers: tuple[int, ...]
    brokers: int
    partitions: int
    replication_factor: int
    min_insync_replicas: int
    batch_size: int = BATCH_SIZE
    batch_connections: int = BATCH_CONNECTIONS
    single_connections: int = SINGLE_CONNECTIONS


def worker_counts(cores: int) -> tuple[int, ...]:
    """ingest's worker counts to measure: 1, 2 and one per core; on two cores also 4 (more
    workers than cores: what oversubscription costs)."""
    if cores < 1:
        raise ConfigError(f"the machine's core count must be at least 1 (got {cores})")
    counts = {1, 2, cores}
    if cores == 2:  # the two-core case: more workers than cores
        counts.add(4)
    return tuple(sorted(counts))


def build_plan(
    *, seconds: float, prefill: int, cores: int, brokers: int, topics: TopicSettings
) -> ScalePlan:
    """The points to measure, checked: a bad number is a ConfigError saying which."""
    if seconds < 1:
        raise ConfigError(f"--seconds must be at least 1 for --scale (wrk, if chosen, counts whole "
                          f"seconds; got {seconds:g})")  # fmt: skip
    if prefill < topics.partitions:
        raise ConfigError(
            f"--prefill must be at least the topic's {topics.partitions} partitions "
            f"(got {prefill}): every sink replica needs readings to drain"
        )
    replicas = tuple(r for r in SINK_REPLICAS if r <= brokers) or (1,)
    if max(replicas) > topics.partitions:
        raise ConfigError(
            f"{max(replicas)} sink replicas need at least as many partitions "
            f"(the topic has {topics.partitions}): a replica without one idles"
        )
    return ScalePlan(
        seconds=seconds,
        prefill=prefill,
        sink_replicas=replicas,
        ingest_workers=worker_counts(cores),
        brokers=brokers,
        partitions=topics.partitions,
        replication_factor=topics.replication_factor,
        min_insync_replicas=topics.min_insync_replicas,
    )


def drain_rates(times: list[datetime], ready: datetime | None) -> tuple[float, float | None]:
    """Docs/s of a drain from its documents' ``stored_time``: over the whole drain (first
    batch to last, plus one batch's share), and steady (from ``ready``, when every replica
    held its partitions, to the 95th percentile: without the join and the tail of a
    replica finishing its partitions after the others); steady is None when less than a
    fifth of the documents were stored after ``ready``."""
    if not times:
        return float("nan"), None
    ordered = sorted(times)
    batches = len(set(ordered))
    span = (ordered[-1] - ordered[0]).total_seconds() * batches / max(batches - 1, 1)
    whole = len(ordered) / span if span > 0 else float("nan")
    if ready is None:
        return whole, None
    after = [t for t in ordered if t >= ready]
    if len(after) < STEADY_FROM_SHARE * len(ordered):
        return whole, None
    end = after[min(len(after) - 1, int(len(after) * STEADY_UNTIL))]
    within = sum(1 for t in after if t <= end)
    seconds = (end - ready).total_seconds()
    return whole, (within / seconds if seconds > 0 else None)


# -- the private stack ---------------------------------------------------------------------
def default_scale_state_dir() -> Path:
    return default_state_dir().parent / "bench-scale-stack"


def private_stack(state_dir: Path, *, brokers: int) -> Stack:
    """The scaling curve's stack of ``brokers`` Kafka nodes in ``state_dir``, emptied first."""
    return fresh_stack(state_dir, brokers=brokers, console=console, user="--scale")


def run_scale(plan: ScalePlan, state_dir: Path) -> dict[str, Any]:
    """Start the private stack, measure every point, wipe the stack; the result."""
    prepare(console)  # the load generator, built on first use before anything starts
    stack = private_stack(state_dir, brokers=plan.brokers)
    console.print(f"private {plan.brokers}-broker stack in {state_dir}...")
    try:
        endpoints = stack.up().endpoints()
        return _ScaleRun(plan, stack, endpoints).run()
    finally:
        console.print("tearing the private stack down...")
        stack.down(wipe=True)
        shutil.rmtree(state_dir, ignore_errors=True)


# -- one run -------------------------------------------------------------------------------
class _ScaleRun:
    def __init__(self, plan: ScalePlan, stack: Stack, endpoints: dict[str, str]) -> None:
        self.plan, self.stack, self.endpoints = plan, stack, endpoints
        self.kafka = endpoints["kafka"]
        self.tag = uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix="iotpipe-scale-"))
        self.cores = os.cpu_count() or 1
        self.services: list[Group] = [
            Group("kafka", lambda: self._pids(n.name for n in stack.layout().kafka_nodes)),
            Group("registry", lambda: self._pids(["registry"])),
            Group("database", lambda: self._pids(["mongodb"])),
            Group("bench", lambda: [os.getpid()], descendants=False),
        ]

    def _pids(self, names: Iterable[str]) -> list[int]:
        return [pid for name in names if (pid := self.stack.pid(name)) is not None]

    def run(self) -> dict[str, Any]:
        plan = self.plan
        sink_topic, ingest_topic = f"scale-sink-{self.tag}", f"scale-ingest-{self.tag}"
        self._make_topics([sink_topic, ingest_topic])
        keys = KeyStore(self.workdir / "keys.json")
        key = keys.create("bench", "admin")[1]
        env = world.service_env(self.endpoints, keys.path)
        began = datetime.now(UTC)
        load_before = os.getloadavg()
        self._warm_up(ingest_topic)
        result: dict[str, Any] = {
            "kind": "scale",
            "started": began.isoformat(timespec="seconds"),
            "plan": asdict(plan),
            "idle_cpu": self._idle(),
            "limits": self._limits(sink_topic),
            "partition_records": self._partition_records(sink_topic),
            "sink": [self._sink_point(r, env, sink_topic) for r in plan.sink_replicas],
            "ingest": [self._ingest_point(k, env, ingest_topic, key) for k in plan.ingest_workers],
        }
        result["machine"] = {
            "cores": self.cores,
            "platform": platform.platform(),
            "load_before": [round(v, 2) for v in load_before],
            "load_after": [round(v, 2) for v in os.getloadavg()],
        }
        result["seconds_taken"] = round((datetime.now(UTC) - began).total_seconds(), 1)
        console.print(f"logs of the services under test: {self.workdir}")
        return result

    def _make_topics(self, names: list[str]) -> None:
        plan = self.plan
        specs = [
            spec
            for name in names
            for spec in pipeline_topics(
                topic=name,
                partitions=plan.partitions,
                replication_factor=plan.replication_factor,
                min_insync_replicas=plan.min_insync_replicas,
            )
        ]
        report = ensure_topics(KafkaTopicAdmin(self.kafka, timeout=30), specs)
        if not report.ok:
            raise ServiceFailed(f"the scale topics are not as asked: {'; '.join(report.problems)}")
        contract, registry = Contract.load(), SchemaRegistry(self.endpoints["registry"])
        for name in names:
            registry.push(contract.on_topic(name))

    def _warm_up(self, topic: str) -> None:
        """One record with ingest's producer settings, so that the timed producers find the
        cluster's coordinators loaded (a new cluster answers the first idempotent producer
        "coordinator load in progress" for a few seconds)."""
        producer = Producer(ingest_producer_config(IngestSettings(), self.kafka))
        producer.produce(topic, key=b"warm-up", value=b"warm-up")
        if producer.flush(120) != 0:
            raise ServiceFailed(f"the private cluster {self.kafka} took no record in 120 s")

    def _idle(self) -> dict[str, float]:
        """What the stack itself costs with nothing to do (and what else runs meanwhile)."""
        console.print(f"the stack idle ({IDLE_SECONDS:g} s)...")
        meter = self._meter()
        meter.start()
        time.sleep(IDLE_SECONDS)
        return meter.stop()

    def _meter(self, *extra: Group) -> CpuMeter:
        return CpuMeter([*self.services, *extra])

    def _limits(self, topic: str) -> dict[str, Any]:
        plan = self.plan
        console.print(
            f"bare producer, acks=all on {plan.brokers} brokers ({plan.prefill} readings)..."
        )
        meter = self._meter()
        meter.start()
        produced = limits.bare_producer(
            self.kafka, self.endpoints["registry"], Contract.load(), topic, plan.prefill
        )
        producer_cpu = meter.stop()
        console.print(f"bare database inserts ({plan.prefill} documents)...")
        meter.start()
        inserted = limits.bare_database(self.endpoints["mongodb"], plan.prefill, batch=2000)
        database_cpu = meter.stop()
        return {
            "bare_producer_readings_per_s": produced,
            "bare_producer_cpu": producer_cpu,
            "bare_db_docs_per_s": inserted,
            "bare_db_cpu": database_cpu,
        }

    def _partition_records(self, topic: str) -> list[int]:
        """Records per partition (the workload's 50 devices keyed by device: not even)."""
        consumer = Consumer({"bootstrap.servers": self.kafka, "group.id": f"scale-{self.tag}"})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in sorted(partitions)
            ]
        finally:
            consumer.close()

    def _end_offsets(self, topic: str) -> int:
        return sum(self._partition_records(topic))

    # -- the sink ------------------------------------------------------------------------
    def _sink_point(self, replicas: int, env: dict[str, str], topic: str) -> dict[str, Any]:
        plan = self.plan
        database = f"scale_sink_{self.tag}_r{replicas}"
        group = f"{topic}-r{replicas}"
        console.print(f"sink, {replicas} replica(s) draining {plan.prefill} readings...")
        with ExitStack() as running:
            health: list[str] = []
            processes = []
            for index in range(replicas):  # all launched before any is waited for
                sink_env = {
                    **world.sink_env(env, topic, database),
                    "IOTPIPE_SINK_GROUP_ID": group,
                }
                health.append(f"http://127.0.0.1:{sink_env['IOTPIPE_SINK_HEALTH_PORT']}/healthz")
                log = self.workdir / f"sink-r{replicas}-{index}.log"
                processes.append(
                    running.enter_context(serve(["-m", "iotpipe", "sink"], sink_env, log, None))
                )
            for url, process, index in zip(health, processes, range(replicas), strict=True):
                wait_http(url, process, self.workdir / f"sink-r{replicas}-{index}.log")
            meter = self._meter(Group("sink", lambda: [p.pid for p in processes]))
            meter.start()
            launched = time.monotonic()
            metric_urls = [url.replace("/healthz", "/metrics") for url in health]

            def drained() -> bool:
                return _written(metric_urls) >= plan.prefill

            ready = _all_assigned(health, plan.partitions, drained=drained)
            ready_after = None if ready is None else round(time.monotonic() - launched, 2)
            deadline = time.monotonic() + 600
            while not drained():
                if time.monotonic() > deadline:
                    raise ServiceFailed(
                        f"{replicas} sink replica(s) did not drain {topic} in 600 s"
                    )
                time.sleep(0.2)
            cpu = meter.stop()
            uncommitted = self._uncommitted(group, topic)
        times = _stored_times(self.endpoints["mongodb"], database)
        whole, steady = drain_rates(times, ready)
        return {
            "replicas": replicas,
            "docs_per_s": steady if steady is not None else whole,
            "drain_docs_per_s": whole,
            "steady_docs_per_s": steady,
            "all_assigned_after_s": ready_after,
            "expected": plan.prefill,
            "stored": len(times),
            "uncommitted": uncommitted,
            "cpu": cpu,
        }

    def _uncommitted(self, group: str, topic: str, grace: float = 10) -> int:
        """Records stored whose offsets the group has not committed ``grace`` seconds after
        the last was stored (0 normally; a commit refused in a rebalance, of a partition
        that gets no new record, stays behind until one arrives)."""
        deadline = time.monotonic() + grace
        while True:
            left = self.plan.prefill - phases.committed(self.kafka, group, topic)
            if left <= 0 or time.monotonic() > deadline:
                return max(left, 0)
            time.sleep(0.5)

    # -- ingest --------------------------------------------------------------------------
    def _ingest_point(
        self, workers: int, env: dict[str, str], topic: str, key: str
    ) -> dict[str, Any]:
        plan = self.plan
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        ingest_env = world.ingest_env(env, topic, port)
        args = ["-m", "iotpipe", "ingest", "--workers", str(workers)]
        log = self.workdir / f"ingest-w{workers}.log"
        console.print(f"ingest, {workers} worker(s)...")
        with serve(args, ingest_env, log, f"{base}/readyz") as process:
            url = f"{base}/v1/readings"
            run_load(url, single_body(), key=key, seconds=WARMUP_SECONDS)
            meter = self._meter(Group("ingest", lambda: [process.pid]))
            phase: dict[str, Any] = {"workers": workers}
            for name, url, body, connections, size in (
                ("batch", f"{base}/v1/readings/batch", batch_body(plan.batch_size),
                 plan.batch_connections, plan.batch_size),
                ("single", f"{base}/v1/readings", single_body(), plan.single_connections, 1),
            ):  # fmt: skip
                before = self._end_offsets(topic)
                meter.start()
                found = run_load(url, body, key=key, connections=connections, seconds=plan.seconds)
                cpu = meter.stop(extra={"loadgen": found.cpu_share * self.cores})
                phase[name] = _load_figures(found, size, self._end_offsets(topic) - before, cpu)
        return phase


def _load_figures(
    found: LoadResult, size: int, landed: int, cpu: dict[str, float]
) -> dict[str, Any]:
    if found.non2xx or found.errors:
        console.print(f"[yellow]{found.non2xx} non-2xx answers, {found.errors} errors[/]")
    return {
        "readings_per_s": found.requests_per_s * size,
        "requests_per_s": found.requests_per_s,
        "p50_ms": found.p50_ms,
        "p99_ms": found.p99_ms,
        "non2xx": found.non2xx,
        "errors": found.errors,
        "records_in_topic": landed,
        "cpu": cpu,
    }


def _all_assigned(
    health: list[str], partitions: int, *, drained: Callable[[], bool], timeout: float = 60
) -> datetime | None:
    """When every replica held partitions and together all of them (None: the drain
    ended first, or not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            held = [_assigned(client, url) for url in health]
            if all(h > 0 for h in held) and sum(held) >= partitions:
                return datetime.now(UTC)
            if drained():
                return None
            time.sleep(0.1)
    return None


def _written(urls: list[str]) -> int:
    """Readings the replicas have stored, from their metrics (each insert of a reading
    counts once on the replica that made it; a re-read one counts as a duplicate instead):
    asking the database would compete with the writes measured, and the group's committed
    offsets may stay behind after a rebalance (see ``uncommitted``)."""
    return int(sum(metrics(url).get(_WRITTEN_READINGS, 0.0) for url in urls))


def _assigned(client: httpx.Client, url: str) -> int:
    try:
        return int(client.get(url).json().get("assigned_partitions", 0))
    except (httpx.HTTPError, ValueError):
        return 0


def _stored_times(uri: str, database: str) -> list[datetime]:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        rows = client[database]["readings"].find({}, {"stored_time": 1, "_id": 0})
        return [row["stored_time"] for row in rows]
    finally:
        client.close()
