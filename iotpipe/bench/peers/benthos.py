"""Benthos v4 as ingest's peer: the same JSON POSTs with the same API key, Avro in the
registry's wire format, produced to Kafka, measured with the same load phases.

Benthos core (github.com/redpanda-data/benthos/v4, Go module proxy) ships the
``http_server`` input, bloblang and the processors, but no Kafka output, no schema
registry encoder and no check of ingest's keys; ``compose/local/peers/benthos/main.go``
adds a processor (``iotpipe_api_key``) and a batch output (``iotpipe_kafka_avro``,
franz-go + hamba/avro) for those. The program is built once per content of its sources
into ``<cache>/benthos/<fingerprint>/`` (the Go caches are the stack's, beside it), run
with a config rendered here, and measured:

* ``single_rps`` / ``single_p50_ms`` / ``single_p99_ms``: the bench's load generator
  (:mod:`iotpipe.bench.loadgen`), one reading per POST, ``ctx.connections`` connections
  (as ingest's ``single.full``);
* ``batch_100_readings_per_s`` / ``batch_100_p99_ms`` and ``batch_1000_*``: 100 and
  1,000 readings per POST, 8 and 4 connections (ingest's batch phases,
  ``iotpipe.bench.workload.BATCH_PHASES``);
* ``delivered``: the messages the topic holds afterwards (all phases and the warm-up),
  counted from its offsets; a run whose topic holds fewer readings than the load
  generator saw accepted (``accepted``, estimated from its rates) is refused;
  ``failed_requests``: non-2xx and errors;
* ``*_peer_cpu_share`` and ``*_loadgen_cpu_share``: CPU of the Benthos process and of
  the load generator over each phase (1.0 = all cores busy).

Same work as ingest as far as Benthos goes. Each request's key is checked first, once
per request as ingest does (ingest/auth/keys.py): the ``Authorization: Bearer`` header
(http_server puts request headers in the message's metadata) must hold a key of ingest's
format whose id is in the run's key file and whose secret's SHA-256 matches that entry's,
compared in constant time; the config gets each entry's id and digest (from the same
KeyStore file ingest reads), never the key. A missing or wrong key is answered 401 (a
problem+json body, ``WWW-Authenticate: Bearer``) and the request is dropped before its
body is parsed: nothing of it reaches Kafka. Then a body is one reading or an array of
them; bloblang splits it, sets ``event_id`` (``uuid_v4()`` unless sent) and
``ingest_time``; the plugin decodes each reading into a typed struct, checks the required
fields, encodes it with the subject's latest schema from the registry
(``<topic>-dev.iotpipe.SensorReading``, TopicRecordNameStrategy) behind magic byte 0 and
the schema id, and produces it keyed by ``device_id`` with the record-type header,
acks=all and idempotent, zstd, 5 ms linger (ingest's producer settings); the POST is
answered once Kafka acknowledged every reading of it (502 otherwise). http_server reads
a body of any size (it sets no limit; ingest's is 8 MiB). Not done: the ``X-API-Key``
header (ingest's other way to send a key), re-reading the key file while running,
device keys' per-device check (the benchmark's key is an admin key, which ingest does
not check per reading either), the contract's per-field rules beyond presence and
length, the ``traceparent`` header, and ingest's JSON answer (Benthos answers an
accepted request 200 with an empty body).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console

from ingest.auth.keys import KeyEntry, KeyStore
from iotpipe.bench.loadgen import LoadResult, run_load
from iotpipe.bench.peers import PeerContext, PeerUnavailable
from iotpipe.bench.workload import BATCH_PHASES, batch_body, single_body
from iotpipe.errors import BuildFailed, PrerequisiteMissing, ServiceFailed
from iotpipe.processes import free_port, stop, wait_http
from iotpipe.stack.assets import assets_dir, fingerprint
from iotpipe.stack.install import build_once, go_build_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.progress import run_logged

__all__ = [
    "NAME",
    "accepted_readings",
    "build",
    "go_versions",
    "measure",
    "post_until_served",
    "process_cpu_seconds",
    "render_config",
    "serving",
    "source_dir",
    "source_fingerprint",
    "topic_messages",
]

NAME = "benthos"
BINARY = "iotpipe-benthos"
PATH = "/v1/readings"  # single readings and arrays alike
RECORD_TYPE = "dev.iotpipe.SensorReading"
DELIVERED_SHARE = 0.98  # the topic must hold at least this share of what the load saw accepted

_SOURCES = ("go.mod", "go.sum", "main.go")

_TEMPLATE = """\
# Rendered by iotpipe/bench/peers/benthos.py for one benchmark run.
http:
  enabled: true
  address: {address}
  debug_endpoints: false
logger:
  level: WARN
  format: logfmt
metrics:
  none: {{}}
input:
  http_server:
    path: {path}
    allowed_verbs: ["POST"]
    timeout: 10s
    # Only a refused key leaves a synchronous response (the pipeline's first step);
    # an accepted request is answered 200 with an empty body once Kafka has it.
    sync_response:
      status: "401"
      headers:
        Content-Type: application/problem+json
        WWW-Authenticate: 'Bearer realm="iotpipe"'
pipeline:
  threads: {threads}
  processors:
    # Once per request, before its body is read as JSON (ingest/auth/keys.py's check).
    - iotpipe_api_key:
        keys: {keys}
    - switch:
        - check: errored()
          processors:
            - mapping: |
                root = {{"title": "unauthenticated", "status": 401, "detail": error()}}
            - sync_response: {{}}
            - mapping: root = deleted()
    - mapping: 'root = if this.type() == "array" {{ this }} else {{ [this] }}'
    - unarchive:
        format: json_array
    - mapping: |
        root = this
        root.event_id = this.event_id | uuid_v4()
        root.ingest_time = now()
output:
  iotpipe_kafka_avro:
    seed_brokers: {brokers}
    topic: {topic}
    registry_url: {registry}
    record_type: {record_type}
    linger_ms: {linger_ms}
    max_in_flight: {max_in_flight}
"""


def render_config(
    *,
    port: int,
    topic: str,
    kafka: str,
    registry: str,
    keys: Iterable[KeyEntry],
    threads: int = -1,
    linger_ms: int = 5,
    max_in_flight: int = 64,
) -> str:
    """The Benthos config (YAML; every value JSON-quoted, which YAML reads as is). ``keys``
    are the entries of ingest's key file (a revoked one is left out, as ingest refuses
    it): the key check gets each one's id and the SHA-256 of its secret, never a key."""
    digests = {k.key_id: k.sha256 for k in keys if k.revoked is None}
    return _TEMPLATE.format(
        address=json.dumps(f"127.0.0.1:{port}"),
        keys=json.dumps(digests),
        path=json.dumps(PATH),
        threads=threads,
        brokers=json.dumps([b.strip() for b in kafka.split(",") if b.strip()]),
        topic=json.dumps(topic),
        registry=json.dumps(registry),
        record_type=json.dumps(RECORD_TYPE),
        linger_ms=linger_ms,
        max_in_flight=max_in_flight,
    )


# -- build ------------------------------------------------------------------------------
def source_dir() -> Path:
    """``compose/local/peers/benthos`` (or its copy in an installed package)."""
    return assets_dir() / "peers" / "benthos"


def source_fingerprint(src: Path) -> str:
    return fingerprint(*(src / name for name in _SOURCES))


def go_versions(go_mod: str) -> dict[str, str]:
    """The modules the peer is built from, as go.mod requires them directly."""
    block = re.search(r"^require \(\n(.*?)^\)", go_mod, re.M | re.S)
    lines = block.group(1).splitlines() if block else []
    lines += re.findall(r"^require ([^(\n].*)$", go_mod, re.M)
    found = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and "// indirect" not in line:
            found[parts[0]] = parts[1]
    return found


def build(cache: Path, *, src: Path | None = None, console: Console | None = None) -> Path:
    """The peer's binary, built from ``src`` on first use (Go module proxy, ~2 min)."""
    src = src or source_dir()

    def go_build(out: Path) -> None:
        go = find_go()
        env = go_build_env(cache.parent)  # the stack's Go caches (FerretDB's build fills them)
        run_logged(
            ["nice", "-n", "10", go, "build", "-trimpath", "-o", out / BINARY, "."],
            label="Building the Benthos peer (Go module proxy, ~2 min)",
            log_path=cache / "logs" / "benthos-build.log",
            console=console or Console(stderr=True),
            cwd=src,
            env=env,
        )

    try:
        return build_once(cache / NAME / source_fingerprint(src), go_build) / BINARY
    except PrerequisiteMissing as exc:
        raise PeerUnavailable(f"no Go toolchain ({exc})") from exc
    except (BuildFailed, OSError) as exc:
        lines = [line.strip(" |") for line in str(exc).splitlines() if line.strip(" |")]
        reason = lines[0] if len(lines) < 2 else f"{lines[0].split(';')[0]}: {lines[-1]}"
        raise PeerUnavailable(f"build failed: {reason}") from exc


# -- checks -------------------------------------------------------------------------------
def topic_messages(kafka: str, topic: str) -> int:
    """Messages in ``topic``: the sum over its partitions of high - low watermark."""
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": f"iotpipe-bench-count-{topic}"})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise PeerUnavailable(f"cannot read topic {topic}: {metadata.error}")
        total = 0
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _ok_requests(result: LoadResult, seconds: float) -> float:
    """Requests answered 2xx (the load generator counts non-2xx answers among its requests)."""
    return max(0.0, result.requests_per_s * seconds - result.non2xx)


NOT_SERVED_YET = "UNKNOWN_TOPIC_OR_PARTITION"  # a topic created moments ago (KRaft)


def post_until_served(
    url: str, body: bytes, *, key: str = "", timeout: float = 30
) -> httpx.Response:
    """POST ``body`` (with ``key`` as ``Authorization: Bearer``, if given); while Benthos
    answers 502 because the broker does not serve the topic yet (just created: its
    partitions appear on the broker a little after the topic does), try again. Such an
    answer wrote nothing, so a retry cannot duplicate."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.post(url, content=body, headers=headers, timeout=15)
        not_yet = answer.status_code == 502 and NOT_SERVED_YET in answer.text
        if not not_yet or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def accepted_readings(
    phases: Iterable[tuple[int, LoadResult]], seconds: float, warmup: int
) -> float:
    """Readings the load generator saw accepted over its phases (readings per request,
    result), estimated from its rates over the phase length, plus the ``warmup`` readings
    posted before."""
    return warmup + sum(size * _ok_requests(result, seconds) for size, result in phases)


def process_cpu_seconds(stat: str, ticks_per_second: float) -> float:
    """User + system CPU seconds from the text of ``/proc/<pid>/stat``."""
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and ')'
    return (int(fields[11]) + int(fields[12])) / ticks_per_second  # utime, stime


def _cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return process_cpu_seconds(stat, os.sysconf("SC_CLK_TCK"))


# -- run ----------------------------------------------------------------------------------
def _phase(  # noqa: PLR0917 - one load phase
    process: subprocess.Popen[bytes],
    url: str,
    body: bytes,
    key: str,
    connections: int,
    seconds: float,
) -> tuple[LoadResult, float]:
    """One load phase (``key`` sent as ingest's is) and the peer's CPU share over it (1.0 =
    all cores busy)."""
    before, began = _cpu(process.pid), time.perf_counter()
    result = run_load(url, body, key=key, connections=connections, seconds=seconds)
    wall = time.perf_counter() - began
    return result, (_cpu(process.pid) - before) / (wall * (os.cpu_count() or 1))


@contextmanager
def serving(binary: Path, config: Path, log: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The peer running with ``config`` until the block ends, ready on ``port``."""
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(binary), "-c", str(config)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", process, log, timeout=60)
        except ServiceFailed as exc:
            raise PeerUnavailable(f"Benthos did not start: {exc}") from exc
        yield process
    finally:
        stop(process)


def measure(ctx: PeerContext) -> dict[str, float]:
    binary = build(ctx.cache)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config, log = ctx.workdir / "benthos.yaml", ctx.workdir / "benthos.log"
    config.write_text(
        render_config(
            port=port,
            topic=ctx.topic,
            kafka=ctx.endpoints["kafka"],
            registry=ctx.endpoints["registry"],
            keys=KeyStore(ctx.keys_file).list(),
        )
    )
    url = f"http://127.0.0.1:{port}{PATH}"
    figures: dict[str, float] = {}
    done: list[tuple[int, LoadResult]] = []
    with serving(binary, config, log, port) as process:
        try:  # a warm-up (registry schema, broker metadata), and a check
            first = post_until_served(url, single_body(), key=ctx.key)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"Benthos did not answer a reading: {exc}; see {log}") from exc
        if first.status_code != 200:
            raise PeerUnavailable(f"Benthos refused a reading: {first.status_code} {first.text}")
        single, cpu = _phase(process, url, single_body(), ctx.key, ctx.connections, ctx.seconds)
        done.append((1, single))
        figures |= {
            "single_rps": _ok_requests(single, ctx.seconds) / ctx.seconds,
            "single_p50_ms": single.p50_ms,
            "single_p99_ms": single.p99_ms,
            "single_peer_cpu_share": cpu,
            "single_loadgen_cpu_share": single.cpu_share,
        }
        for size, connections in BATCH_PHASES:
            batch, cpu = _phase(process, url, batch_body(size), ctx.key, connections, ctx.seconds)
            done.append((size, batch))
            accepted_per_s = size * _ok_requests(batch, ctx.seconds) / ctx.seconds
            figures |= {
                f"batch_{size}_readings_per_s": accepted_per_s,
                f"batch_{size}_p99_ms": batch.p99_ms,
                f"batch_{size}_peer_cpu_share": cpu,
                f"batch_{size}_loadgen_cpu_share": batch.cpu_share,
            }
    delivered = topic_messages(ctx.endpoints["kafka"], ctx.topic)
    accepted = accepted_readings(done, ctx.seconds, warmup=1)
    if delivered < DELIVERED_SHARE * accepted:
        raise PeerUnavailable(
            f"the topic holds {delivered} readings, the load generator saw about "
            f"{accepted:.0f} accepted"
        )
    return {
        **figures,
        "failed_requests": float(sum(r.non2xx + r.errors for _, r in done)),
        "delivered": float(delivered),
        "accepted": accepted,
    }
