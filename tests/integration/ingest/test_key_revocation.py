"""A key revoked with ``iotpipe keys revoke`` while a shipped ingest (several worker
processes, each with its own view of the key file) serves a steady stream of requests
with it: every worker refuses it within the stated bound (IOTPIPE_INGEST_KEYS_RECHECK_MS,
500 ms; docs/integrators/auth.md), measured from the moment the key file changed."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.auth.keys import KeyStore
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.ingest.conftest import start_ingest
from tests.support import run_cli, stop
from tests.unit.ingest.conftest import DEVICE, reading

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

WORKERS = 3
PER_WORKER = 2  # connections held on each worker
BOUND = IngestSettings.model_fields["keys_recheck_ms"].default / 1000
SLACK = 0.5  # a busy two-core machine: the CLI, three workers and the load share it


def serving_pid(client_port: int, server_port: int, workers: list[int]) -> int | None:
    """The worker holding the server side of the connection from ``client_port``: the
    socket's inode in /proc/net/tcp, found among the workers' descriptors."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (
            server_port,
            client_port,
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if str(fd.readlink()) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


@dataclass
class Stream:
    """One keep-alive connection sending readings back to back: (sent, answered, status)."""

    connection: http.client.HTTPConnection
    worker: int
    key: str
    answers: list[tuple[float, float, int]] = field(default_factory=list)
    error: str | None = None

    def run(self, stop: threading.Event) -> None:
        port = self.connection.sock.getsockname()[1]
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        try:
            while not stop.is_set():
                sent = time.time()
                self.connection.request("POST", "/v1/readings", json.dumps(reading()), headers)
                response = self.connection.getresponse()
                response.read()
                self.answers.append((sent, time.time(), response.status))
                # The same connection still (a reconnect could land on another worker).
                if self.connection.sock is None or self.connection.sock.getsockname()[1] != port:
                    self.error = "the connection was closed"
                    return
        except (OSError, http.client.HTTPException) as exc:
            self.error = repr(exc)
        finally:
            self.connection.close()


def open_streams(port: int, workers: list[int], key: str) -> list[Stream]:
    """Keep-alive connections until each worker holds ``PER_WORKER`` of them (the kernel
    spreads new connections over the workers' sockets)."""
    streams: list[Stream] = []
    for _ in range(50):
        if all(sum(s.worker == w for s in streams) >= PER_WORKER for w in workers):
            return streams
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.connect()
        worker = serving_pid(connection.sock.getsockname()[1], port, workers)
        if worker is None or sum(s.worker == worker for s in streams) >= PER_WORKER:
            connection.close()
            continue
        streams.append(Stream(connection, worker, key))
    pytest.fail(f"50 connections did not reach every worker: {[s.worker for s in streams]}")


def test_a_revoked_key_is_refused_by_every_worker_within_the_bound(
    live_settings: tuple[IngestSettings, Contract, str, str],
) -> None:
    settings, _, admin_key, device_key = live_settings
    entry, key = KeyStore(settings.keys_file).create(DEVICE)
    served = start_ingest(settings, admin_key, device_key, workers=WORKERS)
    stopping = threading.Event()
    threads: list[threading.Thread] = []
    try:
        workers = served.workers()
        streams = open_streams(int(served.base.rsplit(":", 1)[1]), workers, key)
        threads = [threading.Thread(target=s.run, args=(stopping,)) for s in streams]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while not all(sum(a[2] == 202 for a in s.answers) >= 20 for s in streams):
            assert time.monotonic() < deadline, "the key was not accepted by every worker"
            time.sleep(0.05)
        revoking = run_cli("keys", "revoke", entry.key_id, "--keys-file", str(settings.keys_file))
        assert revoking.returncode == 0, revoking.stderr
        revoked_at = settings.keys_file.stat().st_mtime_ns / 1e9  # when the file changed
        time.sleep(BOUND + SLACK + 1)  # the stream goes on past the bound
    finally:
        stopping.set()
        for thread in threads:
            thread.join(30)
        stop(served.process, 30)
    last_accepted = {w: 0.0 for w in workers}  # when the last request accepted was sent
    first_refused = {w: float("inf") for w in workers}  # when the first 401 arrived
    for stream in streams:
        assert stream.error is None, stream.error
        statuses = [status for _, _, status in stream.answers]
        assert set(statuses) <= {202, 401}, statuses
        assert 401 in statuses, f"worker {stream.worker} never refused the key"
        refused = statuses.index(401)
        assert set(statuses[refused:]) == {401}, "a worker accepted the key after a refusal"
        sent, _, _ = stream.answers[refused - 1]
        _, answered, _ = stream.answers[refused]
        last_accepted[stream.worker] = max(last_accepted[stream.worker], sent)
        first_refused[stream.worker] = min(first_refused[stream.worker], answered)
    late = {w: round(t - revoked_at, 3) for w, t in last_accepted.items()}
    until_refused = {w: round(t - revoked_at, 3) for w, t in first_refused.items()}
    logging.getLogger(__name__).warning(
        "bound %s s; %d requests; last accepted sent after revocation: %s; first 401: %s",
        BOUND, sum(len(s.answers) for s in streams), late, until_refused,
    )  # fmt: skip
    # No request sent later than the bound was accepted, and every worker refused the key
    # (answered 401) within it, slack for a busy machine included.
    assert max(late.values()) <= BOUND + SLACK, late
    assert max(until_refused.values()) <= BOUND + SLACK, until_refused
