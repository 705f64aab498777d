"""An openSenseMap-compatible API in memory, in the documented shapes, with faults.

``GET /boxes/{id}`` answers the box JSON; ``GET /boxes/{id}/data/{sensor}`` the rows of
``[from-date, to-date]`` (both inclusive), newest first, at most ``limit`` of them,
each ``{value, createdAt, location}`` (location as ``[lng, lat]``), as upstream's
``Measurement.getMeasurementsStream``. Unit tests serve it through httpx's MockTransport,
integration tests through a real HTTP server (``serve``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from iotpipe.paths import REPO_DIR

BOX_ID = "57000b8745fd40c8196ad04c"
TEMPERATURE = "57000b8745fd40c8196ad052"
HUMIDITY = "57000b8745fd40c8196ad051"


def box_json() -> dict[str, Any]:
    """The verbatim apidoc box of the conformance folder."""
    path = REPO_DIR / "tests/fixtures/opensensemap/box_and_sensors.json"
    box: dict[str, Any] = json.loads(path.read_text())["box_get_example_verbatim"]["json"]
    return box


def ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def series(
    start: datetime, count: int, *, step: timedelta = timedelta(seconds=60), value: float = 20.0
) -> list[dict[str, Any]]:
    """``count`` rows one ``step`` apart from ``start``, values distinct."""
    return [
        {
            "value": f"{value + i / 100:.2f}",
            "createdAt": ms(start + i * step),
            "location": [7.64568, 51.962372],
        }
        for i in range(count)
    ]


@dataclass
class Fault:
    """Answer the next ``times`` requests whose path contains ``path`` with ``status``
    (or, with status 0, let the client time out)."""

    path: str
    status: int
    times: int = 1
    retry_after: str | None = None


@dataclass
class FakeApi:
    box: dict[str, Any] = field(default_factory=box_json)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    limit: int = 10_000
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hang_seconds: float = 5.0  # how long a "timeout" fault keeps a real server silent
    # Real server only: data calls after the first ``gate_after`` wait until ``gate`` is
    # set (``blocked`` says one is waiting), to stop a job half-way.
    gate: threading.Event | None = None
    gate_after: int = 0
    blocked: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def data_calls(self, sensor: str) -> list[dict[str, str]]:
        return [params for path, params in self.calls if path.endswith(f"/data/{sensor}")]

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def answer(  # noqa: PLR0911 - one return per route and fault
        self, path: str, params: Mapping[str, str]
    ) -> tuple[int, Any, dict[str, str]] | None:
        """(status, JSON body, headers), or None for "say nothing" (a timeout)."""
        with self._lock:
            self.calls.append((path, dict(params)))
        fault = self._fault(path)
        if fault is not None:
            if fault.status == 0:
                return None
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, {"code": "Internal", "message": "injected"}, headers
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "boxes":
            return 404, {"code": "NotFound", "message": "no such route"}, {}
        if parts[1] != self.box["_id"]:
            return 404, {"code": "NotFound", "message": "Box not found"}, {}
        if len(parts) == 2:
            return 200, self.box, {}
        if len(parts) == 4 and parts[2] == "data":
            return 200, self._page(parts[3], params), {}
        return 404, {"code": "NotFound", "message": "no such route"}, {}

    def _page(self, sensor: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        start = _time(params["from-date"])
        end = _time(params["to-date"])
        chosen = [r for r in self.rows.get(sensor, []) if start <= _time(r["createdAt"]) <= end]
        chosen.sort(key=lambda r: _time(r["createdAt"]), reverse=True)  # stable
        return chosen[: self.limit]

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            answer = self.answer(request.url.path, dict(request.url.params))
            if answer is None:
                raise httpx.ReadTimeout("injected timeout", request=request)
            status, body, headers = answer
            return httpx.Response(status, json=body, headers=headers)

        return httpx.MockTransport(handle)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real HTTP server on a free loopback port, in a thread; yields its base URL."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if api.gate is not None and "/data/" in url.path:
                    with api._lock:
                        passed = sum("/data/" in path for path, _ in api.calls)
                    if passed >= api.gate_after:
                        api.blocked.set()
                        api.gate.wait()
                answer = api.answer(url.path, dict(parse_qsl(url.query)))
                if answer is None:
                    time.sleep(api.hang_seconds)  # longer than the client's timeout
                    return
                status, body, headers = answer
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
