"""Peer: Kafka Connect (standalone worker) with the MongoDB sink connector.

The same work as our sink's phase: drain ``ctx.prefilled_topic`` (Avro readings in
Confluent's wire format, written by the bare producer), decode each against the registry
and insert it into ``<ctx.database>.readings``, which holds our sink's indexes. Everything
comes from Maven Central (``compose/local/peers/kafka-connect``): the worker at the
broker's version, the connector, and Apicurio's Avro converter, the 2.x line (its 3.0.9
artifact's parent pom is not published there), which reads the registry's v2 API with
the 4-byte content ids the ccompat API gives our producer.

The connector writes our sink's reading document (``connector.properties``: the record's
fields, an ObjectId ``_id``, ``stored_time`` and ``source`` added by a transform and post
processors); what still differs (those two fields' values, no rollups or device status,
duplicates and bad records stop the task) is :data:`iotpipe.bench.same_work.DIFFERENCES`,
and the bench measures our sink doing the same work too (``sink_same_work_docs_per_s``).

The rate is measured like :func:`iotpipe.bench.phases.sink_rate`: the peer waits until
the connector's consumer group has committed every record (asking Kafka, not the database
under test), then the documents' stamps give the span from the first to the last. Our
sink stamps ``stored_time`` per batch; the connector's stamp is its ObjectId (generated
when it converts the record), to the second: +-1 s on the span (+-4 % for 60,000
readings at 2,600/s).
The worker's start-up (JVM, plugin discovery, connector and task start) is excluded that
way and reported on its own, as ``startup_s`` (launch to task RUNNING). The build adds
ServiceLoader manifests to the plugins (``manifests/``), so the worker finds them without
scanning every class (``plugin.discovery=service_load``).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from rich.console import Console

from iotpipe.bench import phases
from iotpipe.bench.peers import PeerContext, PeerUnavailable
from iotpipe.errors import IotpipeError
from iotpipe.processes import free_port, stop
from iotpipe.stack.assets import assets_dir, fingerprint
from iotpipe.stack.install import build_once
from iotpipe.stack.prereqs import find_java, find_maven
from iotpipe.stack.progress import run_logged
from sink.store.mongo import MongoStore

__all__ = [
    "NAME",
    "Build",
    "build_key",
    "manifest_jar",
    "measure",
    "registry_v2_url",
    "render",
    "stamped_rate",
]

NAME = "Kafka Connect + MongoDB sink connector"


# Each plugin is a folder of plugin.path (its own class loader); Kafka's artifacts and
# slf4j come from the worker, so they are not copied into plugins.
PLUGINS = ("mongodb-sink", "apicurio-converter")
PROVIDED_GROUPS = "org.apache.kafka,org.slf4j"
MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectStandalone"
HEAP = ("-Xms256m", "-Xmx512m")
# Our sink's batch size (IOTPIPE_SINK_BATCH_MAX_RECORDS): records per poll, hence per put.
MAX_POLL_RECORDS = 2000
POLL_SECONDS = 0.5  # committed offsets, as often as phases.sink_rate asks for our sink
STARTUP_TIMEOUT = 180.0
STALL_TIMEOUT = 120.0  # no new commit for this long while the task runs: give up


def _assets() -> Path:
    return assets_dir() / "peers" / "kafka-connect"


def _poms(assets: Path) -> list[Path]:
    return [assets / "worker.pom.xml", *(assets / f"{p}.pom.xml" for p in PLUGINS)]


def _manifests(assets: Path, plugin: str) -> list[Path]:
    """The ServiceLoader files the build adds to ``plugin`` (its classes, for
    ``plugin.discovery=service_load``), sorted."""
    return sorted(p for p in (assets / "manifests" / plugin).rglob("*") if p.is_file())


def build_key(assets: Path) -> str:
    """The cache key: a hash of the three poms and the plugins' manifests (the property
    templates are rendered per run, so they are not build inputs)."""
    return fingerprint(*_poms(assets), *(m for p in PLUGINS for m in _manifests(assets, p)))


def manifest_jar(assets: Path, plugin: str, jar: Path) -> None:
    """Pack ``manifests/<plugin>`` (``META-INF/services/...``) into ``jar``."""
    root = assets / "manifests" / plugin
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as out:
        for file in _manifests(assets, plugin):
            out.write(file, file.relative_to(root).as_posix())


def registry_v2_url(endpoint: str) -> str:
    """The registry's own v2 API at the same host as its ccompat endpoint
    (``http://h:p/apis/ccompat/v7`` -> ``http://h:p/apis/registry/v2``)."""
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not a registry URL: {endpoint!r}")
    return urlunsplit((parts.scheme, parts.netloc, "/apis/registry/v2", "", ""))


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill a properties template's ``$name`` placeholders; every one must be given, and
    no value may break the line (a newline would add a property)."""
    text = {k: str(v) for k, v in values.items()}
    for key, value in text.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: a property value cannot span lines")
    return Template(template).substitute(text)


@dataclass(frozen=True)
class Build:
    """The built peer: the worker's jars and the plugin.path folder."""

    home: Path

    @property
    def worker(self) -> Path:
        return self.home / "worker"

    @property
    def plugins(self) -> Path:
        return self.home / "plugins"


def build(cache: Path, *, assets: Path | None = None, console: Console | None = None) -> Build:
    """Copy the worker's and the plugins' jars from Maven Central into
    ``<cache>/kafka-connect/<hash of the poms>/`` once; later runs reuse them."""
    assets = assets or _assets()
    console = console or Console(stderr=True)
    m2 = cache.parent / "m2"  # ~/.cache/iotpipe/m2, shared with the stack's installer
    logs = cache / "kafka-connect" / "logs"

    def maven(pom: Path, out: Path, *extra: str) -> None:
        run_logged(
            [find_maven(), "-B", "-f", pom, f"-Dmaven.repo.local={m2}",
             "dependency:copy-dependencies", f"-DoutputDirectory={out}", *extra],
            label=f"Kafka Connect peer: {pom.name} (Maven Central)",
            log_path=logs / f"{pom.stem}.log",
            console=console,
        )  # fmt: skip

    def copy_all(out: Path) -> None:
        maven(assets / "worker.pom.xml", out / "worker")
        for plugin in PLUGINS:
            folder = out / "plugins" / plugin
            maven(assets / f"{plugin}.pom.xml", folder, f"-DexcludeGroupIds={PROVIDED_GROUPS}")
            manifest_jar(assets, plugin, folder / "iotpipe-service-manifests.jar")

    return Build(build_once(cache / "kafka-connect" / build_key(assets), copy_all))


def stamped_rate(stamps: Sequence[datetime]) -> float:
    """:func:`iotpipe.bench.phases.sink_rate`'s formula over per-document stamps: the
    documents over the span from the first stamp to the last, plus one stamp interval's
    share. Our sink stamps each batch (``stored_time``); the connector's ObjectIds carry
    the second at which it converted the record, so here a stamp is a whole second and
    the span is ``last - first + 1`` s while documents flow (1 s of resolution)."""
    if not stamps:
        return float("nan")
    first, last = min(stamps), max(stamps)
    distinct = len(set(stamps))
    span = (last - first).total_seconds() * distinct / max(distinct - 1, 1)
    return len(stamps) / span if span > 0 else float("nan")


def measure(ctx: PeerContext) -> dict[str, float]:
    try:
        java = find_java(minimum=17).executable
        built = build(ctx.cache)
    except IotpipeError as exc:  # Maven or Java missing, a dependency that did not resolve
        raise PeerUnavailable(f"Kafka Connect could not be built: {_first_line(exc)}") from exc
    run = _Run.prepare(ctx, built, java)
    try:
        startup = run.start()
        running_at = datetime.now(UTC)
        run.drain()
        stamps = run.stamps()
    finally:
        run.clean_up()
    first = (min(stamps) - running_at).total_seconds() if stamps else float("nan")
    return {
        "sink_docs_per_s": stamped_rate(stamps),
        "stored": float(len(stamps)),
        "startup_s": startup,
        # From the task running to its first stored batch (group join, first fetch), to
        # the second; not in the rate either.
        "first_batch_after_running_s": max(first, 0.0),
    }


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass
class _Run:
    ctx: PeerContext
    built: Build
    java: Path
    name: str
    folder: Path
    rest: str
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def prepare(cls, ctx: PeerContext, built: Build, java: Path) -> _Run:
        name = f"iotpipe-bench-{uuid.uuid4().hex[:8]}"
        folder = ctx.workdir / "kafka-connect"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        assets = _assets()
        worker = {
            "bootstrap": ctx.endpoints["kafka"],
            "offsets_file": folder / f"{name}.offsets",
            "plugin_path": built.plugins,
            "rest_port": port,
            "max_poll_records": MAX_POLL_RECORDS,
        }
        connector = {
            "name": name,
            "tasks": 1,  # our sink is one consumer too
            "topic": ctx.prefilled_topic,
            "mongodb": ctx.endpoints["mongodb"],
            "database": ctx.database,
            "registry_url": registry_v2_url(ctx.endpoints["registry"]),
        }
        for file, values in (("worker", worker), ("connector", connector)):
            text = render((assets / f"{file}.properties").read_text(), values)
            (folder / f"{file}.properties").write_text(text)
        shutil.copyfile(assets / "log4j2.properties", folder / "log4j2.properties")
        return cls(ctx, built, java, name, folder, f"http://127.0.0.1:{port}")

    def start(self) -> float:
        """Launch the worker; seconds until its one task runs."""
        self._empty_readings()
        # Our sink's indexes, so that each insert costs the connector what it costs ours.
        store = MongoStore.connect(self.ctx.endpoints["mongodb"], self.ctx.database,
                                   timedelta(days=30))  # fmt: skip
        try:
            store.prepare()
        finally:
            store.close()
        command = [
            str(self.java), *HEAP, "-XX:+ExitOnOutOfMemoryError",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
            "-cp", f"{self.built.worker}/*", MAIN_CLASS,
            str(self.folder / "worker.properties"), str(self.folder / "connector.properties"),
        ]  # fmt: skip
        began = time.monotonic()
        with (self.folder / "worker.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        while time.monotonic() - began < STARTUP_TIMEOUT:
            state = self._task_state()
            if state == "RUNNING":
                return time.monotonic() - began
            time.sleep(0.2)
        raise PeerUnavailable(f"the Kafka Connect task did not start in {STARTUP_TIMEOUT:.0f}s"
                              f" (log: {self.folder / 'worker.log'})")  # fmt: skip

    def _empty_readings(self) -> None:
        """The connector needs ``readings`` empty (the unique event_id index would refuse
        the same readings again, and the rate reads every document's stamp). If another
        peer of the run wrote there first, its collection goes, and the log says so."""
        client: MongoClient[dict[str, Any]] = MongoClient(self.ctx.endpoints["mongodb"])
        try:
            database = client[self.ctx.database]
            if database["readings"].find_one({}, {"_id": 1}) is not None:
                with (self.folder / "worker.log").open("a") as log:
                    log.write(
                        f"[peer] {self.ctx.database}.readings was not empty (another peer "
                        "of this run?): dropped before the connector starts\n"
                    )
                database.drop_collection("readings")
        finally:
            client.close()

    def _task_state(self) -> str | None:
        """The task's state, None while the worker's REST API is not up; raises
        PeerUnavailable if the worker exited or the task failed."""
        if self.process is not None and self.process.poll() is not None:
            raise PeerUnavailable(f"the Kafka Connect worker exited ({self.process.returncode})"
                                  f": {self._log_error()}")  # fmt: skip
        try:
            reply = httpx.get(f"{self.rest}/connectors/{self.name}/status", timeout=5)
        except httpx.HTTPError:
            return None
        if reply.status_code != 200:
            return None
        status: dict[str, Any] = reply.json()
        for task in status.get("tasks", []):
            if task.get("state") == "FAILED":
                trace = str(task.get("trace", "")).strip().splitlines()
                raise PeerUnavailable(f"the Kafka Connect task failed: {_cause(trace)}; "
                                      f"log: {self.folder / 'worker.log'}")  # fmt: skip
        if status.get("connector", {}).get("state") == "FAILED":
            trace = str(status["connector"].get("trace", "")).strip().splitlines()
            raise PeerUnavailable(f"the MongoDB sink connector failed: {_cause(trace)}")
        tasks = status.get("tasks", [])
        return str(tasks[0].get("state")) if tasks else None

    def drain(self) -> None:
        """Wait until the connector's group has committed every pre-filled record, asking
        Kafka (as the bench does for our sink), not the database under test."""
        group, topic = f"connect-{self.name}", self.ctx.prefilled_topic
        expected = self.ctx.prefill
        samples: list[tuple[float, int]] = []
        last_change = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                done = phases.committed(self.ctx.endpoints["kafka"], group, topic)
                if samples and done != samples[-1][1]:
                    last_change = now
                samples.append((now, done))
                if done >= expected:
                    return
                if now - last_change > STALL_TIMEOUT:
                    raise PeerUnavailable(
                        f"the connector committed {done}/{expected} records and then "
                        f"nothing for {STALL_TIMEOUT:.0f}s"
                    )
                if len(samples) % 10 == 0:
                    self._task_state()  # a failed task or worker: say so now
                time.sleep(POLL_SECONDS)
        finally:
            self._keep_trace(samples)

    def stamps(self) -> list[datetime]:
        """When the connector converted each stored record: its ObjectId's time."""
        client: MongoClient[dict[str, Any]] = MongoClient(self.ctx.endpoints["mongodb"])
        try:
            readings = client[self.ctx.database]["readings"]
            return [d["_id"].generation_time for d in readings.find({}, {"_id": 1})]
        finally:
            client.close()

    def _keep_trace(self, samples: list[tuple[float, int]]) -> None:
        """The committed offsets polled, for a look at the drain's shape later."""
        if samples:
            start = samples[0][0]
            rows = "".join(f"{t - start:.2f},{n}\n" for t, n in samples)
            (self.folder / "drain.csv").write_text("seconds,committed\n" + rows)

    def clean_up(self) -> None:
        """Stop the worker (SIGTERM, then kill), delete the connector's consumer group and
        the offsets file. The database is the caller's."""
        if self.process is not None:
            stop(self.process, grace=30)
        admin = AdminClient({"bootstrap.servers": self.ctx.endpoints["kafka"]})
        for future in admin.delete_consumer_groups([f"connect-{self.name}"]).values():
            with contextlib.suppress(KafkaException):  # none if the task never committed
                future.result(30)
        (self.folder / f"{self.name}.offsets").unlink(missing_ok=True)

    def _log_error(self) -> str:
        log = self.folder / "worker.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        errors = [line for line in lines if " ERROR " in line or "Exception" in line]
        return (errors[0] if errors else (lines[-1] if lines else "no output"))[:300]


def _cause(trace: list[str]) -> str:
    """A Java stack trace in one line: its first line and its innermost "Caused by"."""
    if not trace:
        return "no trace"
    causes = [line.removeprefix("Caused by:").strip() for line in trace
              if line.startswith("Caused by:")]  # fmt: skip
    said = trace[0].strip() + (f" (caused by {causes[-1]})" if causes else "")
    return said[:400]
