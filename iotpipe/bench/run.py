"""One benchmark run: the limits and the pipeline's figures, on this machine, now."""

from __future__ import annotations

import importlib
import os
import platform
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import confluent_kafka
from rich.console import Console

from ingest.settings import IngestSettings
from iotpipe.bench import limits, loadgen, phases, same_work, stages, world
from iotpipe.bench.loadgen import LoadResult, run_load
from iotpipe.bench.peers import PeerContext, PeerUnavailable
from iotpipe.bench.processes import metrics, serve
from iotpipe.bench.workload import BATCH_PHASES, batch_body, single_body
from iotpipe.contract.catalog import Contract
from iotpipe.processes import free_port, wait_sink_assigned
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings

__all__ = ["PEERS", "BenchPlan", "run_bench"]

PEERS = ("benthos", "kafka_connect")

console = Console(stderr=True)


@dataclass(frozen=True)
class BenchPlan:
    seconds: float = 10.0  # per load phase
    prefill: int = 60_000  # readings for the bare producer, bare database and sink phases
    e2e_seconds: float = 20.0
    connections: int = 32
    peers: tuple[str, ...] = PEERS  # iotpipe.bench.peers modules measured in the same run


@dataclass
class BenchRun:
    figures: dict[str, Any] = field(default_factory=dict)
    loadgen: dict[str, float] = field(default_factory=dict)  # phase -> generator's CPU share

    def load(self, name: str, result: LoadResult) -> LoadResult:
        self.loadgen[name] = round(result.cpu_share, 3)
        if result.non2xx or result.errors:
            console.print(f"[yellow]{name}: {result.non2xx} non-2xx, {result.errors} errors[/]")
        return result


def _versions() -> dict[str, str]:
    names = ["fastapi", "uvicorn", "pydantic", "confluent-kafka", "pymongo", "orjson", "fastavro"]
    found = {n: metadata.version(n) for n in names}
    found["librdkafka"] = confluent_kafka.libversion()[0]
    found["python"] = platform.python_version()
    return found


def run_bench(plan: BenchPlan) -> dict[str, Any]:
    loadgen.prepare(console)  # built on first use, before anything starts
    stack = Stack(StackSettings(), console=console)
    endpoints = stack.up().endpoints()
    tag = uuid.uuid4().hex[:8]
    names = ("ingest", "sink", "producer", "e2e", "peer")
    topics = {name: f"bench-{name}-{tag}" for name in names}
    databases = {
        name: f"bench_{name}_{tag}" for name in ("sink", "sink_same_work", "e2e", *plan.peers)
    }
    run = BenchRun()
    with world.run_world(
        endpoints, owner="bench", topics=topics.values(), databases=databases.values(),
        keep_workdir=True,  # the services' logs
    ) as corner:  # fmt: skip
        workdir, key, env = corner.workdir, corner.key, corner.env()
        _http_phases(plan, run, env=env, workdir=workdir, topic=topics["ingest"], key=key)
        _limits_and_sink(
            plan, run, env=env, endpoints=endpoints, workdir=workdir, topic=topics["sink"],
            producer_topic=topics["producer"], database=databases["sink"],
            same_work_database=databases["sink_same_work"],
        )  # fmt: skip
        _end_to_end(
            plan, run, env=env, workdir=workdir, topic=topics["e2e"], database=databases["e2e"],
            key=key,
        )  # fmt: skip
        for name in plan.peers:  # each with an empty database of its own
            context = PeerContext(
                endpoints=endpoints, workdir=workdir, cache=StackSettings().cache_dir / "peers",
                seconds=plan.seconds, connections=plan.connections, topic=topics["peer"],
                prefilled_topic=topics["sink"], prefill=plan.prefill, database=databases[name],
                keys_file=corner.keys_file, key=key,
            )  # fmt: skip
            run.figures.setdefault("peers", {})[name] = _peer(name, context)
    return {
        "figures": run.figures,
        "loadgen_cpu_share": run.loadgen,
        "machine": {
            "cores": _cores(),
            "platform": platform.platform(),
            "versions": _versions(),
        },
        "plan": plan.__dict__,
    }


def _peer(name: str, context: PeerContext) -> dict[str, Any]:
    """A peer's figures, or why it could not be measured here (``unavailable``)."""
    module = importlib.import_module(f"iotpipe.bench.peers.{name}")
    console.print(f"peer: {module.NAME}...")
    try:
        figures: dict[str, Any] = dict(module.measure(context))
    except PeerUnavailable as exc:
        console.print(f"[yellow]peer {module.NAME}: not measured: {exc}[/]")
        return {"name": module.NAME, "unavailable": str(exc)}
    return {"name": module.NAME, **figures}


def _cores() -> int:
    return os.cpu_count() or 1


def _workers(env: dict[str, str]) -> int:
    """ingest's server processes (and the bare servers'), as its settings read ``env``."""
    variable = "IOTPIPE_INGEST_WORKERS"
    given = env.get(variable) or os.environ.get(variable)
    return (
        IngestSettings(workers=int(given)).worker_count()
        if given
        else (IngestSettings().worker_count())
    )


def _http_phases(
    plan: BenchPlan, run: BenchRun, *, env: dict[str, str], workdir: Path, topic: str, key: str
) -> None:
    single = single_body()
    for kind, figure in (("asgi", "bare_http_rps"), ("fastapi", "bare_http_fastapi_rps")):
        port = free_port()
        noop_env = world.ingest_env(env, topic, port)  # ingest's workers and settings
        with serve(["-m", "iotpipe.bench.noop", str(port), kind], noop_env,
                   workdir / f"noop-{kind}.log", f"http://127.0.0.1:{port}/healthz"):  # fmt: skip
            console.print(f"bare HTTP server ({kind} no-op)...")
            noop = f"http://127.0.0.1:{port}/noop"
            found = run_load(noop, single, connections=plan.connections, seconds=plan.seconds)
            bare = run.load(f"bare_http_{kind}", found)
        run.figures[figure] = bare.requests_per_s
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ingest_env = world.ingest_env(env, topic, port)
    run.figures["ingest_workers"] = _workers(ingest_env)
    with serve(["-m", "iotpipe", "ingest"], ingest_env, workdir / "ingest.log", f"{base}/readyz"):
        console.print("ingest, single readings at full load...")
        url = f"{base}/v1/readings"
        full = run.load("single_full", run_load(url, single, key=key, connections=plan.connections,
                                                seconds=plan.seconds))  # fmt: skip
        # Half load: pace each connection so that all together send about half the peak.
        per_connection = full.requests_per_s / 2 / plan.connections
        pause = max(0.0, 1000 / per_connection - full.mean_ms / 2)
        console.print("ingest, single readings at half load...")
        half = run.load("single_half", run_load(url, single, key=key, connections=plan.connections,
                                                seconds=plan.seconds, delay_ms=pause))  # fmt: skip
        run.figures["single"] = {
            "full": {"rps": full.requests_per_s, "p50_ms": full.p50_ms, "p99_ms": full.p99_ms},
            "half": {"rps": half.requests_per_s, "p50_ms": half.p50_ms, "p99_ms": half.p99_ms},
        }
        for size, connections in BATCH_PHASES:
            console.print(f"ingest, batches of {size}...")
            batch = batch_body(size)
            result = run.load(f"batch_{size}", run_load(f"{base}/v1/readings/batch", batch, key=key,
                                                        connections=connections,
                                                        seconds=plan.seconds))  # fmt: skip
            run.figures[f"batch_{size}_readings_per_s"] = result.requests_per_s * size
            run.figures[f"batch_{size}_p99_ms"] = result.p99_ms
        console.print("ingest, WebSocket frames of 100...")
        rate, cpu = phases.websocket_rate(
            base.replace("http", "ws", 1) + "/v1/stream", key, seconds=plan.seconds,
            connections=8, batch=100,
        )  # fmt: skip
        run.figures["websocket_readings_per_s"] = rate
        run.loadgen["websocket_client"] = round(cpu / _cores(), 3)


def _limits_and_sink(
    plan: BenchPlan,
    run: BenchRun,
    *,
    env: dict[str, str],
    endpoints: dict[str, str],
    workdir: Path,
    topic: str,
    producer_topic: str,
    database: str,
    same_work_database: str,
) -> None:
    console.print(f"bare producer, AvroSerializer ({plan.prefill} readings)...")
    run.figures["bare_producer_avroserializer_readings_per_s"] = limits.bare_producer(
        endpoints["kafka"], endpoints["registry"], Contract.load(), producer_topic,
        plan.prefill, encoder="avroserializer",
    )  # fmt: skip
    console.print(f"bare producer, generated codec ({plan.prefill} readings)...")
    run.figures["bare_producer_readings_per_s"] = limits.bare_producer(
        endpoints["kafka"], endpoints["registry"], Contract.load(), topic, plan.prefill
    )
    console.print("CPU per reading, stage by stage...")
    run.figures["stage_us_per_reading"] = stages.stage_costs(endpoints, producer_topic)
    console.print(f"bare database inserts ({plan.prefill} documents)...")
    run.figures["bare_db_docs_per_s"] = limits.bare_database(
        endpoints["mongodb"], plan.prefill, batch=2000
    )
    console.print("sink, draining the pre-filled topic...")
    run.figures["sink_docs_per_s"] = same_work.sink_rate(
        endpoints, env, workdir, topic, database, plan.prefill
    )
    # Like with like: doing only what the Kafka Connect peer does (readings only).
    console.print("sink, the Kafka Connect peer's work only, the same topic...")
    run.figures["sink_same_work_docs_per_s"] = same_work.sink_rate(
        endpoints, env, workdir, topic, same_work_database, plan.prefill, same_work=True
    )


def _end_to_end(
    plan: BenchPlan,
    run: BenchRun,
    *,
    env: dict[str, str],
    workdir: Path,
    topic: str,
    database: str,
    key: str,
) -> None:
    peak = min(run.figures["batch_100_readings_per_s"], run.figures["sink_docs_per_s"])
    rate = peak / 2
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ingest_env = world.ingest_env(env, topic, port)
    sink_env = world.sink_env(env, topic, database)
    health = f"http://127.0.0.1:{sink_env['IOTPIPE_SINK_HEALTH_PORT']}"
    with (
        serve(["-m", "iotpipe", "sink"], sink_env, workdir / "e2e-sink.log", f"{health}/healthz"),
        serve(
            ["-m", "iotpipe", "ingest"], ingest_env, workdir / "e2e-ingest.log", f"{base}/readyz"
        ),
    ):
        if not wait_sink_assigned(f"{health}/healthz"):  # measured in steady state
            console.print("[yellow]the sink holds no partitions yet; measuring anyway[/]")
        console.print(f"end to end at half of peak ({rate:.0f} readings/s)...")
        achieved, ids = phases.e2e_at_rate(base, key, rate=rate, seconds=plan.e2e_seconds)
        latencies = phases.e2e_latencies(env["IOTPIPE_MONGODB_URI"], database, ids)
        sink_metrics = metrics(f"{health}/metrics")
    count = sink_metrics.get("iotpipe_sink_batch_seconds_count", 0.0)
    mean_batch_ms = 1000 * sink_metrics.get("iotpipe_sink_batch_seconds_sum", 0.0) / max(count, 1)
    # stored_time is stamped when a batch is handed to the database, so a document is
    # visible one write (and commit) later: the mean of those is added. (The batch's own
    # time, first record decoded to commit, also holds the wait for the write before it,
    # which stored_time already counts.)
    writes = sink_metrics.get("iotpipe_sink_write_seconds_count", 0.0)
    mean_write_ms = 1000 * sink_metrics.get("iotpipe_sink_write_seconds_sum", 0.0) / max(writes, 1)
    run.figures["e2e"] = {
        "peak_readings_per_s": peak,
        "rate_readings_per_s": achieved,
        "accepted": len(ids),
        "stored": latencies.samples,
        "p50_ms": latencies.p50_ms + mean_write_ms,
        "p99_ms": latencies.p99_ms + mean_write_ms,
        "mean_write_ms": mean_write_ms,
        "mean_batch_ms": mean_batch_ms,
    }
