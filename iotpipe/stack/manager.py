"""Bring the local stack up and down, and tell its status.

``up`` is idempotent: a service whose recorded process is alive is reused, a dead or
never-started one is (built if needed and) started, and ``up`` returns only when every
requested service answers a real request, with the stack ready for every command: the
pipeline's topics made (with Kafka) and the contract registered (with the registry),
whether the services were started or reused. ``down`` signals exactly the pids it recorded.
One state folder holds everything; a lock keeps two commands on it from racing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rich.console import Console

from iotpipe.contract.registry import SchemaRegistry
from iotpipe.errors import ServiceFailed, StackError
from iotpipe.stack.assets import assets_dir
from iotpipe.stack.cluster import ClusterStatus, ensure_cluster_topics, read_cluster
from iotpipe.stack.install import Installer
from iotpipe.stack.prereqs import Java, find_java
from iotpipe.stack.process import PidRecord, is_alive, read_pidfile, spawn, terminate
from iotpipe.stack.progress import HEARTBEAT_SECONDS
from iotpipe.stack.schemas import register_contract
from iotpipe.stack.services import LaunchContext, Service, service_table
from iotpipe.stack.settings import (
    LOOPBACK,
    SERVICES,
    ServiceName,
    StackLayout,
    StackSettings,
    load_layout,
    resolve_layout,
    save_layout,
)
from iotpipe.terminal import make_console

__all__ = ["ServiceStatus", "Stack", "StackStatus"]

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ServiceStatus:
    name: ServiceName
    label: str
    pid: int | None
    endpoint: str
    problem: str | None  # None: it answered its readiness probe

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def healthy(self) -> bool:
        return self.running and self.problem is None


@dataclass(frozen=True)
class StackStatus:
    state_dir: Path
    layout: StackLayout
    services: list[ServiceStatus]

    @property
    def healthy(self) -> bool:
        return all(service.healthy for service in self.services)

    def endpoints(self) -> dict[str, str]:
        return self.layout.endpoints()


class Stack:
    """One local stack, identified by its state folder."""

    def __init__(
        self,
        settings: StackSettings,
        *,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir.expanduser().resolve()
        self._console = console or make_console(stderr=True)

    # -- paths -------------------------------------------------------------------------
    def log_path(self, name: ServiceName) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def _pidfile(self, name: ServiceName) -> Path:
        return self.state_dir / "run" / f"{name}.pid"

    def _running(self, name: ServiceName) -> PidRecord | None:
        record = read_pidfile(self._pidfile(name))
        return record if record is not None and is_alive(record) else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def layout(self) -> StackLayout:
        return resolve_layout(self.settings)

    # -- commands ----------------------------------------------------------------------
    def service_names(self) -> list[ServiceName]:
        """This stack's services in start order: its Kafka node(s), registry, mongodb."""
        return self.layout().service_names()

    def pid(self, name: ServiceName) -> int | None:
        """The live pid of one service (a node name for a single Kafka node)."""
        record = self._running(name)
        return record.pid if record is not None else None

    def up(self, names: Iterable[str] = SERVICES) -> StackStatus:
        """Start the named services ("kafka": every node) and wait until they answer; with
        Kafka among them, make the pipeline's topics as the cluster profile says, with the
        registry, register the contract (both also when the service was already running,
        which a stack started before either existed needs; idempotent)."""
        with self._locked():
            layout = self.layout()
            saved = load_layout(self.state_dir)
            if saved is not None and saved.ports() != layout.ports():
                running = [n for n in saved.service_names() if self._running(n)]
                if running:
                    raise StackError(
                        f"the stack in {self.state_dir} already runs ({', '.join(running)}) "
                        f"with another layout {saved.ports()}; run `iotpipe stack down` first"
                    )
            chosen = layout.expand(names)  # an unknown name is refused before anything
            save_layout(self.state_dir, layout)
            table = service_table(layout)
            started: dict[ServiceName, PidRecord] = {}
            for name in chosen:
                record = self._running(name)
                if record is not None:
                    self._console.print(f"  {name:<9} already running (pid {record.pid}), reused")
                    continue
                started[name] = self._start(table[name], layout)
            self._wait_ready(layout, chosen, started)
            if any(name.startswith("kafka") for name in chosen):
                self._ensure_topics(layout)
            if "registry" in chosen:
                self._register_contract(layout)
        return self.status()

    def _ensure_topics(self, layout: StackLayout) -> None:
        for line in ensure_cluster_topics(layout):
            self._console.print(f"  topics    {line}", highlight=False)

    def _register_contract(self, layout: StackLayout) -> None:
        registry = SchemaRegistry(layout.registry_url)
        try:
            for line in register_contract(registry):
                self._console.print(f"  schemas   {line}", highlight=False)
        finally:
            registry.close()

    def cluster(self, timeout: float = 5.0) -> ClusterStatus:
        """Brokers up, the active controller and under-replicated partitions, as Kafka
        answers now (and the quorum state the nodes keep in their folders)."""
        return read_cluster(self.layout(), self.state_dir, timeout=timeout)

    def _start(self, service: Service, layout: StackLayout) -> PidRecord:
        for port in service.ports(layout):
            _ensure_free(port, service.name)
        data_dir = self.state_dir / service.name  # "kafka" alone, "kafka-<id>" in a cluster
        data_dir.mkdir(parents=True, exist_ok=True)
        ctx = LaunchContext(
            layout=layout,
            data_dir=data_dir,
            assets=assets_dir(),
            installer=Installer(
                cache_dir=self.settings.cache_dir.expanduser(),
                assets=assets_dir(),
                console=self._console,
            ),
            java=self._java,
        )
        launch = service.prepare(ctx)
        record = spawn(
            launch.command,
            cwd=data_dir,
            env=launch.env,
            log_path=self.log_path(service.name),
            pidfile=self._pidfile(service.name),
        )
        self._console.print(f"  {service.name:<9} started (pid {record.pid}): {service.label}")
        return record

    @cache  # noqa: B019 - one lookup per Stack; the Stack lives for one command
    def _java(self) -> Java:
        jvm_dirs = [Path(p) for p in self.settings.jvm_search_path.split(os.pathsep) if p]
        return find_java(java_home=self.settings.java_home, jvm_dirs=jvm_dirs)

    def _wait_ready(
        self,
        layout: StackLayout,
        names: list[ServiceName],
        started: dict[ServiceName, PidRecord],
    ) -> None:
        table = service_table(layout)
        begin = time.monotonic()
        deadline = begin + self.settings.start_timeout
        pending = list(names)
        problems: dict[ServiceName, str | None] = {}
        beat = 0.0
        with self._console.status("waiting for services to answer...") as status:
            while pending:
                for name in list(pending):
                    record = started.get(name) or self._running(name)
                    if record is None or not is_alive(record):
                        raise ServiceFailed(
                            f"{name} exited during start-up; see {self.log_path(name)}:\n"
                            + _tail(self.log_path(name), 15)
                        )
                    problems[name] = table[name].probe(layout)
                    if problems[name] is None:
                        pending.remove(name)
                        self._console.print(
                            f"  {name:<9} ready after {time.monotonic() - begin:.1f}s"
                        )
                if not pending:
                    break
                if time.monotonic() > deadline:
                    why = "; ".join(f"{n}: {problems.get(n)}" for n in pending)
                    raise ServiceFailed(
                        f"not ready after {self.settings.start_timeout:.0f}s ({why}); "
                        f"logs are in {self.state_dir / 'logs'}"
                    )
                waiting = f"waiting for {', '.join(pending)} to answer"
                status.update(f"{waiting}...")
                waited = time.monotonic() - begin
                if not self._console.is_terminal and waited - beat >= HEARTBEAT_SECONDS:
                    beat = waited  # a log gets a line now and then instead of a spinner
                    self._console.print(f"  {waiting} ({waited:.0f}s)", highlight=False)
                time.sleep(POLL_SECONDS)

    def down(self, names: Iterable[str] = SERVICES, *, wipe: bool = False) -> list[str]:
        """Stop the named services' recorded processes ("kafka": every node, also nodes
        of an earlier layout); with ``wipe`` delete their data."""
        stopped: list[str] = []
        with self._locked():
            layout = self.layout()
            names = list(names)
            chosen = layout.expand(names)
            if "kafka" in names:  # nodes a stack of another size left behind
                chosen += [n for n in self._kafka_leftovers() if n not in chosen]
            table = service_table(layout)
            records = {name: read_pidfile(self._pidfile(name)) for name in chosen}
            live = {n: r for n, r in records.items() if r is not None and is_alive(r)}
            # All at once: the last Kafka node stopped alone has no controller quorum left
            # for its controlled shutdown and would wait out its whole grace period.
            with ThreadPoolExecutor(max_workers=max(1, len(live))) as pool:
                futures = {
                    name: pool.submit(
                        terminate, record, grace=table[name].stop_grace if name in table else 30.0
                    )
                    for name, record in live.items()
                }
            for name in chosen:
                if name in futures:
                    how = "killed after grace period" if futures[name].result() else "stopped"
                    self._console.print(f"  {name:<9} {how} (pid {live[name].pid})")
                    stopped.append(name)
                self._pidfile(name).unlink(missing_ok=True)
                if wipe:
                    shutil.rmtree(self.state_dir / name, ignore_errors=True)
                    self.log_path(name).unlink(missing_ok=True)
            if wipe and set(names) >= set(SERVICES):
                (self.state_dir / "stack.json").unlink(missing_ok=True)
        return stopped

    def _kafka_leftovers(self) -> list[ServiceName]:
        """Kafka node folders or pids from a layout with another broker count."""
        found = {
            path.stem if path.suffix == ".pid" else path.name
            for folder in (self.state_dir, self.state_dir / "run")
            if folder.is_dir()
            for path in folder.iterdir()
            if path.name == "kafka" or path.name.startswith("kafka-") or path.stem == "kafka"
        }
        return sorted(found)

    def status(self, *, probe: bool = True) -> StackStatus:
        layout = self.layout()
        services = []
        for name, service in service_table(layout).items():
            record = self._running(name)
            if record is None:
                problem: str | None = "not running"
            else:
                problem = service.probe(layout) if probe else None
            services.append(
                ServiceStatus(
                    name=name,
                    label=service.label,
                    pid=record.pid if record else None,
                    endpoint=service.endpoint(layout),
                    problem=problem,
                )
            )
        return StackStatus(state_dir=self.state_dir, layout=layout, services=services)


def _ensure_free(port: int, owner: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise StackError(
                f"port {port} for {owner} is taken by another program ({exc.strerror}); "
                "pick other ports with the --*-port flags or IOTPIPE_*_PORT variables"
            ) from exc


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "  (no log)"
    return "\n".join(f"  | {line}" for line in text)
