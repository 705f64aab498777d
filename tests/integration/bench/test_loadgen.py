"""The bench's load generator, built (or found in the cache) as a run builds it, against a
small local server that counts what it is sent: the requests, non-2xx answers and pacing
the generator reports are the server's own counts, also when the server sends chunked
answers and closes connections. (No rate or latency is asserted.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest

from iotpipe.bench import loadgen
from iotpipe.bench.workload import batch_body
from tests.support import QuietLog, serving

# The first run builds the generator (Go module proxy; ~20 s, then cached).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KEY = "k-0123456789ab"
BODY = batch_body(3)
REFUSE_EVERY = 7  # the server answers every 7th request 503
CHUNKED_EVERY = 3  # ... every 3rd answer's body in chunks (as a streamed answer)
CLOSE_EVERY = 5  # ... and closes the connection after every 5th (Connection: close)


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered = 0
        self.refused = 0
        self.wrong = 0  # a request without the body, key or content type the run sends


@contextmanager
def counting_server() -> Iterator[tuple[str, Counts]]:
    counts = Counts()

    class Handler(QuietLog, BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the generator's connections expect

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            right = (
                body == BODY
                and self.headers["Authorization"] == f"Bearer {KEY}"
                and self.headers["Content-Type"] == "application/json"
            )
            with counts.lock:
                counts.answered += 1
                counts.wrong += not right
                number = counts.answered
                refuse = number % REFUSE_EVERY == 0
                counts.refused += refuse
            self.send_response(503 if refuse else 202)
            if number % CLOSE_EVERY == 0:
                self.send_header("Connection", "close")
                self.close_connection = True
            if number % CHUNKED_EVERY == 0:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"1\r\n{\r\n1;x=y\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n")
            else:
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

    with serving(Handler) as url:
        yield f"{url}v1/readings/batch", counts


@pytest.fixture(autouse=True)
def built_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loadgen.ENV, raising=False)  # the generator the bench builds
    assert loadgen.prepare().name == "loadgen"


def test_the_requests_it_reports_are_the_ones_the_server_answered() -> None:
    with counting_server() as (url, counts):
        result = loadgen.run_load(url, BODY, key=KEY, connections=4, seconds=2)
    assert result.errors == 0
    assert counts.answered > REFUSE_EVERY  # a run long enough to have refusals
    assert result.requests == counts.answered
    assert result.non2xx == counts.refused
    assert counts.wrong == 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.cpu_share > 0  # measured from the generator's rusage


def test_a_paced_connection_waits_after_each_answer() -> None:
    """Two connections pausing 250 ms after each answer for 2 s send at most 9 requests
    each (one at 0, 0.25, ..., 2.0 s), however fast the server answers."""
    with counting_server() as (url, counts):
        result = loadgen.run_load(url, BODY, key=KEY, connections=2, seconds=2, delay_ms=250)
    assert result.requests == counts.answered
    assert 2 <= counts.answered <= 2 * 9
