"""Bad input that needs the real thing: Kafka's own size limit, and a real ``iotpipe
ingest`` process (uvicorn with the shipped options) for slow clients, chunked bodies on
the wire and memory. The request-level cases are in tests/unit/ingest/test_bad_input.py.

No timing is asserted: a slow connection must be closed within a generous cap (a bound
that only a missing timeout breaks), and memory growth must stay under a generous bound
(that only a leak breaks); the figures are printed (``-s``).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.ingest.conftest import DEVICE, LiveIngest, shipped_env
from tests.support import free_port, stop
from tests.unit.ingest.conftest import reading

pytestmark = pytest.mark.timeout(600)

LIMIT = 1024 * 1024  # the process's max_body_bytes
BODY_TIMEOUT = 20  # its body_timeout_seconds: long enough to see others served meanwhile
CAP = 120.0  # a slow connection must be closed by then (uvicorn's header wait is 5 s)


# --- Kafka's own limit: a record the broker refuses for its size --------------------


def test_a_record_larger_than_kafka_takes_is_413_not_retry(live_ingest: LiveIngest) -> None:
    """Regression: the broker's MSG_SIZE_TOO_LARGE used to be a 503 'retry with the same
    event_id', which can never succeed. It is now the record's rejection."""
    huge = reading(device_id=DEVICE, metadata={"note": "x" * (2 * 1024 * 1024)})
    auth = {"Authorization": f"Bearer {live_ingest.device_key}"}

    single = live_ingest.client.post("/v1/readings", json=huge, headers=auth)
    batch = live_ingest.client.post(
        "/v1/readings/batch", json=[reading(device_id=DEVICE), huge], headers=auth
    )

    assert single.status_code == 413, single.text[:500]
    assert single.json()["errors"][0]["code"] == "too_large"
    assert "larger than Kafka accepts" in single.json()["detail"]
    assert batch.status_code == 202, batch.text[:500]
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["errors"][0]["code"] == "too_large"


# --- a real ingest process ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    live_settings: tuple[IngestSettings, Contract, str, str],
) -> Iterator[tuple[int, int, str]]:
    """(port, pid, device key) of ``iotpipe ingest`` as shipped, on the test's topics."""
    settings, _, _, device_key = live_settings
    port = free_port()
    env = shipped_env(
        settings,
        IOTPIPE_INGEST_MAX_BODY_BYTES=str(LIMIT),
        IOTPIPE_INGEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "ingest", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).parent,
    )
    try:
        deadline = time.monotonic() + 90
        while not _ready(port):
            assert process.poll() is None, "ingest exited"
            assert time.monotonic() < deadline, "ingest did not come up"
            time.sleep(0.2)
        yield port, process.pid, device_key
    finally:
        stop(process, 15)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post_reading(port: int, key: str) -> int:
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/readings",
        json=reading(device_id=DEVICE),
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    return response.status_code


class Slow:
    """A client connection that sends ``data`` ``piece`` bytes per step, ``pace`` seconds
    apart, and reads whatever the server answers, until the server closes it."""

    def __init__(self, port: int, data: bytes, *, piece: int = 1) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setblocking(False)
        self.data, self.piece = data, piece
        self.sent = 0
        self.answer = b""
        self.closed = False  # by the server: EOF, reset or a refused write

    def step(self) -> None:
        if self.closed:
            return
        readable, _, _ = select.select([self.sock], [], [], 0)
        if readable:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            self.answer += chunk
            if not chunk:
                self.close(by_server=True)
                return
        if self.sent < len(self.data):
            try:
                self.sent += self.sock.send(self.data[self.sent : self.sent + self.piece])
            except BlockingIOError:
                pass  # the server is not reading: its buffers are full
            except (BrokenPipeError, ConnectionResetError):
                self.close(by_server=True)

    def close(self, *, by_server: bool = False) -> None:
        self.closed = self.closed or by_server
        self.sock.close()

    def still_open(self) -> bool:
        """Nothing (not even EOF) has arrived from the server on this connection."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not self.closed and not readable


def _run_until_closed(slow: list[Slow], *, pace: float, cap: float) -> None:
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline and not all(s.closed for s in slow):
        for connection in slow:
            connection.step()
        time.sleep(pace)


def _head(key: str, *, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        "POST /v1/readings HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\n{framing}\r\n\r\n"
    ).encode()


def test_slow_clients_are_cut_off_and_block_no_one(server: tuple[int, int, str]) -> None:
    port, _, key = server
    body = json.dumps(reading(device_id=DEVICE)).encode()
    idle = Slow(port, b"")
    # Headers at one byte per step, never ending (2 kB of one header).
    headers = Slow(port, b"POST /v1/readings HTTP/1.1\r\nX-Pad: " + b"a" * 2048)
    # Complete headers at once, then the body at one byte per step.
    trickle = Slow(port, _head(key, length=len(body)) + body)
    trickle.sent = len(_head(key, length=len(body)))
    trickle.sock.sendall(trickle.data[: trickle.sent])
    # A first request served at once on a kept-alive connection, then the next
    # request's headers byte by byte.
    second = Slow(port, b"POST /v1/readings HTTP/1.1\r\nX-Pad: " + b"a" * 2048)
    second.sock.sendall(_head(key, length=len(body)) + body)
    slow = [idle, headers, trickle, second]
    _run_until_closed(slow, pace=0.1, cap=1.0)

    # Meanwhile the server serves everyone else (a single event loop: a blocked read
    # would hold these up until the slow connections are gone).
    assert [_post_reading(port, key) for _ in range(5)] == [202] * 5
    assert trickle.still_open()  # its body deadline (20 s) has not passed yet

    started = time.monotonic()
    _run_until_closed(slow, pace=0.2, cap=CAP)
    took = time.monotonic() - started
    _report(f"slow connections closed within {took:.1f} s (cap {CAP:g} s)")

    assert idle.closed and headers.closed, "uvicorn's header wait did not close them"
    assert second.answer.startswith(b"HTTP/1.1 202 "), second.answer[:200]
    assert second.closed, "a kept-alive connection trickling its next headers stayed open"
    assert headers.sent < len(headers.data)  # cut off mid-headers
    assert trickle.closed, "a body trickled byte by byte held its connection"
    assert trickle.sent < len(trickle.data)  # cut off mid-body
    assert trickle.answer.startswith(b"HTTP/1.1 408 "), trickle.answer[:200]
    assert b"did not arrive within 20 s" in trickle.answer
    assert _post_reading(port, key) == 202


def test_a_chunked_body_is_read_up_to_the_limit_only(server: tuple[int, int, str]) -> None:
    """No Content-Length: the server must stop reading at the limit (413, connection
    closed), not swallow all 64 MiB the client would send."""
    port, _, key = server
    piece = b" " * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    total = 1024  # chunks: 64 MiB
    flood = Slow(port, _head(key, length=None) + chunk * total + b"0\r\n\r\n", piece=len(chunk))

    _run_until_closed([flood], pace=0, cap=CAP)

    _report(f"chunked flood: {flood.sent / 2**20:.1f} MiB written before the server closed")
    assert flood.closed
    assert flood.sent < len(flood.data) // 4  # socket buffers hold a few MiB, not 64
    # The 413 is sent before the close; a reset racing it may drop it on the client side.
    assert flood.answer == b"" or flood.answer.startswith(b"HTTP/1.1 413 "), flood.answer[:200]
    assert _post_reading(port, key) == 202


def _report(line: str) -> None:
    """Figures for the report (shown with ``-s``)."""
    sys.stderr.write(line + "\n")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _over_the_limit(port: int, key: str) -> bytes:
    """Headers announcing limit + 1 bytes: answered 413 before any body byte is read."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_head(key, length=LIMIT + 1))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_memory_stays_bounded_under_bodies_at_and_over_the_limit(
    server: tuple[int, int, str],
) -> None:
    port, pid, key = server
    at_limit = json.dumps({"note": "x" * (LIMIT - 12)}).encode()
    assert len(at_limit) == LIMIT
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(client: httpx.Client, rounds: int) -> None:
        for _ in range(rounds):
            response = client.post(f"http://127.0.0.1:{port}/v1/readings", content=at_limit)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            answer = _over_the_limit(port, key)
            code = int(answer.split(b" ", 2)[1])
            statuses[code] = statuses.get(code, 0) + 1

    with httpx.Client(headers=headers, timeout=60) as client:
        send(client, 10)  # warm up: allocator arenas, caches
        before = _rss_mib(pid)
        send(client, 200)
        after = _rss_mib(pid)
    growth = after - before
    _report(
        f"ingest RSS: {before:.1f} MiB -> {after:.1f} MiB after 200 bodies of {LIMIT} bytes "
        f"and 200 over the limit (growth {growth:+.1f} MiB); answers {statuses}"
    )

    assert statuses == {422: 210, 413: 210}  # read whole and judged; refused unread
    assert growth < 200, f"RSS grew by {growth:.1f} MiB"
    assert _post_reading(port, key) == 202
