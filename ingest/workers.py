"""Serve ingest from several worker processes, each listening on a socket of its own.

uvicorn's own workers accept from one shared socket, and whichever process wakes first
takes the connection: measured under wrk's 32 keep-alive connections, one worker often
held nearly all of them (100 % and 0.5 % CPU) and the second core went unused. Here each
worker binds its own socket to the same port with ``SO_REUSEPORT``, and the kernel
spreads new connections over the workers evenly (by a hash of the connection's
addresses).

The supervisor (this process) starts the workers, restarts one that dies, and stops them
all on SIGTERM or SIGINT (each finishes its requests in flight: uvicorn's graceful
shutdown). Worker 0 is the *primary*: it also listens on a private Unix socket, and the
other workers forward the backfill-job operations there (jobs run in one process; see
``ingest.api.forward``). Prometheus metrics are kept in files shared by the workers
(``prometheus_client`` multiprocess mode), so ``/metrics`` on any worker counts them all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn

from ingest.server import uvicorn_options
from ingest.settings import IngestSettings
from iotpipe.errors import ConfigError

__all__ = ["APP", "METRICS_DIR_ENV", "Supervisor", "primary_socket", "reuseport_socket", "serve"]

log = logging.getLogger("uvicorn.error")
WORKER_INDEX_ENV = "IOTPIPE_INGEST_WORKER_INDEX"  # IngestSettings.worker_index
PRIMARY_SOCKET_ENV = "IOTPIPE_INGEST_PRIMARY_SOCKET"  # IngestSettings.primary_socket
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multiprocess mode
_STARTUP_GRACE = 30.0  # a worker that dies sooner after its start stops the supervisor
_STOP_GRACE = 30.0
_PR_SET_PDEATHSIG = 1  # prctl(2)


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"ingest cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def primary_socket(path: str) -> socket.socket:
    """The primary worker's private Unix socket (job operations forwarded to it)."""
    Path(path).unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)  # noqa: PTH101 - the socket's path, not a Path operation
    sock.listen(256)
    return sock


APP = "ingest.main:server_app"  # the factory each worker process builds its app with


def serve(settings: IngestSettings, app: str = APP) -> None:
    """Serve ``app`` (an import string of an app factory) until stopped: in this process,
    or in ``settings.worker_count()`` worker processes."""
    workers = settings.worker_count()
    if workers == 1:
        uvicorn.run(app, factory=True, **{**uvicorn_options(settings), "workers": 1})
        return
    if settings.port == 0:
        raise ConfigError("several ingest workers need a fixed port (IOTPIPE_INGEST_PORT)")
    if _answers(settings.host, settings.port):  # SO_REUSEPORT would share it silently
        raise ConfigError(f"{settings.host}:{settings.port} is in use: another server answers")
    reuseport_socket(settings.host, settings.port).close()  # the port is ours: say so now
    Supervisor(settings, workers, app).run()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _worker(index: int, app: str, supervisor: int) -> None:
    """A worker process (its environment set by the supervisor): its own socket(s), one
    uvicorn server, until told to stop."""
    _stop_with(supervisor)
    settings = IngestSettings()
    options = {**uvicorn_options(settings), "workers": 1}
    options.pop("host")
    options.pop("port")
    config = uvicorn.Config(app, factory=True, **options)
    sockets = [reuseport_socket(settings.host, settings.port)]
    if index == 0 and settings.primary_socket:
        sockets.append(primary_socket(settings.primary_socket))
    uvicorn.Server(config).run(sockets=sockets)


class Supervisor:
    def __init__(self, settings: IngestSettings, workers: int, app: str = APP) -> None:
        self.settings = settings
        self.workers = workers
        self.app = app
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess | None] = [None] * workers
        self._started: list[float] = [0.0] * workers
        self._stopping = False
        self._runtime = Path(tempfile.mkdtemp(prefix="iotpipe-ingest-"))

    def _env(self, index: int) -> dict[str, str]:
        return {
            WORKER_INDEX_ENV: str(index),
            PRIMARY_SOCKET_ENV: str(self._runtime / "primary.sock"),
            METRICS_DIR_ENV: str(self._runtime / "metrics"),
        }

    def _start(self, index: int) -> None:
        # A spawned process starts with this environment: prometheus_client reads its
        # multiprocess directory when first imported, before any code of ours runs.
        os.environ.update(self._env(index))
        process = self._context.Process(
            target=_worker, args=(index, self.app, os.getpid()), name=f"ingest-worker-{index}"
        )
        process.start()
        self._processes[index] = process
        self._started[index] = time.monotonic()

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> None:
        (self._runtime / "metrics").mkdir()
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        log.info("ingest: %d worker processes on %s:%d (SO_REUSEPORT)", self.workers,
                 self.settings.host, self.settings.port)  # fmt: skip
        failed = False
        try:
            for index in range(self.workers):
                self._start(index)
            while not self._stopping and not failed:
                time.sleep(0.2)
                failed = self._watch()
        finally:
            self._terminate()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            shutil.rmtree(self._runtime, ignore_errors=True)
        if failed:
            sys.exit(3)

    def _watch(self) -> bool:
        """Restart workers that died; True if one died during its start-up (a setting or
        the environment is wrong: restarting would only repeat it)."""
        for index, process in enumerate(self._processes):
            if process is None or process.is_alive() or self._stopping:
                continue
            early = time.monotonic() - self._started[index] < _STARTUP_GRACE
            then = " during start-up" if early else "; restarting it"
            log.error("ingest worker %d (pid %s) exited with %s%s", index, process.pid,
                      process.exitcode, then)  # fmt: skip
            _mark_dead(process.pid, self._runtime / "metrics")
            if early:
                return True
            self._start(index)
        return False

    def _terminate(self) -> None:
        alive = [p for p in self._processes if p is not None and p.is_alive()]
        for process in alive:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)


def _stop_with(supervisor: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies (even by SIGKILL):
    no worker outlives it, serving on as an orphan (Linux; elsewhere the worker sees its
    parent change within a second)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        threading.Thread(target=_watch_parent, args=(supervisor,), daemon=True).start()
    if os.getppid() != supervisor:  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _mark_dead(pid: int | None, metrics_dir: Path) -> None:
    """Drop a dead worker's live gauges from the shared metrics (its counters stay)."""
    if pid is None:
        return
    from prometheus_client import multiprocess  # noqa: PLC0415 - needs the dir's env set

    os.environ.setdefault(METRICS_DIR_ENV, str(metrics_dir))
    multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]
