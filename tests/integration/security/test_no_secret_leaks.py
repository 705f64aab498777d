"""No secret in logs, errors, metrics or command output: real ``iotpipe ingest`` and
``iotpipe sink`` processes (log level info as shipped, and debug) run with known secrets
(an admin key, a device key, a revoked key, a box access token, a MongoDB password); we
drive good and failing requests (wrong, revoked and foreign keys, wrong box tokens,
bodies carrying secrets in fields), read /metrics of both and the CLI's listings, stop
the processes and grep everything captured for every secret and its SHA-256."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.integration.devices.world import eventually
from tests.integration.security.world import World, running_world
from tests.support import stop
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID
from tests.unit.ingest.conftest import reading

pytestmark = [pytest.mark.timeout(600)]
DEVICE = "sec-dev-1"


@pytest.fixture(params=["info", "debug"])
def world(
    request: pytest.FixtureRequest, endpoints: dict[str, str], tmp_path: Path
) -> Iterator[World]:
    with running_world(str(request.param), tmp_path, endpoints) as w:
        yield w
        client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
        client.drop_database(w.database)
        client.close()


class Recorder:
    """Every answer, kept as text (status, headers, body) to be searched."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = httpx.Client(base_url=world.ingest_url, timeout=30)

    def __call__(self, method: str, url: str, expect: int, **kwargs: Any) -> httpx.Response:
        answer = self.http.request(method, url, **kwargs)
        what = f"{method} {url} -> {answer.status_code}"
        self.world.captured[f"answer {what} #{len(self.world.captured)}"] = (
            f"{answer.status_code} {dict(answer.headers)} {answer.text}"
        )
        assert answer.status_code == expect, f"{what}: {answer.text}"
        return answer


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _drive_ingest(world: World, call: Recorder) -> None:
    s = world.secrets
    call("POST", "/v1/readings", 202, json=reading(device_id=DEVICE), headers=bearer(s.device_key))
    call("POST", "/v1/readings", 403, json=reading(device_id="sec-dev-9"),
         headers=bearer(s.device_key))  # fmt: skip
    wrong = f"iotp_{s.device_key.split('_')[1]}_{'A' * 43}"
    call("POST", "/v1/readings", 401, json=reading(device_id=DEVICE), headers=bearer(wrong))
    call("POST", "/v1/readings", 401, json=reading(device_id=DEVICE), headers=bearer(s.revoked_key))
    call("POST", "/v1/readings", 401, json=reading(), headers={"X-API-Key": s.box_token})
    # Bodies carrying secrets in fields: refused, and the refusal does not echo them.
    for field, secret in [("value", s.admin_key), ("event_time", s.mongo_password),
                          ("device_id", s.box_token)]:  # fmt: skip
        body = reading(**{"device_id": DEVICE, field: secret})
        expect = 403 if field == "device_id" else 422
        call("POST", "/v1/readings", expect, json=body, headers=bearer(s.device_key))
    batch = [reading(device_id=DEVICE, value=s.admin_key), reading(event_time=s.box_token)]
    call("POST", "/v1/readings/batch", 422, json=batch, headers=bearer(s.device_key))
    broken = f'{{"device_id": "{s.admin_key}", "value": {s.mongo_password}'.encode()
    call("POST", "/v1/readings", 400, content=broken,
         headers={**bearer(s.device_key), "Content-Type": "application/json"})  # fmt: skip
    # Admin operations: a device key is refused; a source URL carrying a token too.
    call("GET", "/v1/jobs", 403, headers=bearer(s.device_key))
    call("GET", "/v1/jobs", 200, headers=bearer(s.admin_key))
    now = datetime.now(UTC)
    job = {"box_id": BOX_ID, "from": (now - timedelta(days=2)).isoformat(),
           "to": (now - timedelta(days=1)).isoformat(),
           "source": f"http://127.0.0.1:9/?token={s.box_token}"}  # fmt: skip
    call("POST", "/v1/jobs", 403, json=job, headers=bearer(s.device_key))
    call("POST", "/v1/jobs", 422, json=job, headers=bearer(s.admin_key))


def _drive_opensensemap(world: World, call: Recorder) -> None:
    s = world.secrets
    data = f"/boxes/{BOX_ID}/data"
    measurements = [{"sensor": SENSOR_ID, "value": "21.5"}]
    call("POST", data, 201, json=measurements, headers={"Authorization": s.box_token})
    for wrong in ("not-the-token", s.admin_key, s.box_token.upper(), s.box_token[:-1]):
        call("POST", data, 401, json=measurements, headers={"Authorization": wrong})
    call("POST", data, 401, json=measurements,
         headers={"x-osem-device-api-key": f"{s.box_token}x"})  # fmt: skip
    single = f"/boxes/{BOX_ID}/{SENSOR_ID}"
    call("POST", single, 201, json={"value": 22.5}, headers={"Authorization": s.box_token})
    call("POST", single, 401, json={"value": 22.5}, headers={"Authorization": s.device_key})


def _drive_websocket(world: World) -> None:
    s = world.secrets
    url = world.ingest_url.replace("http://", "ws://") + "/v1/stream"
    for key in (f"iotp_{s.device_key.split('_')[1]}_{'B' * 43}", s.revoked_key, s.box_token):
        try:
            with connect(url, additional_headers=bearer(key), open_timeout=30) as ws:
                ws.recv(30)
            outcome, refused = "accepted", False
        except InvalidStatus as exc:  # uvicorn answers a close before accept with 403
            answer = exc.response
            outcome = f"{answer.status_code} {answer.headers} {bytes(answer.body or b'')!r}"
            refused = answer.status_code == 403
        except ConnectionClosed as exc:
            outcome = str(exc.rcvd)
            refused = exc.rcvd is not None and exc.rcvd.code == 1008
        world.captured[f"websocket handshake #{len(world.captured)}"] = outcome
        assert refused, outcome
    with connect(url, additional_headers=bearer(s.device_key), open_timeout=30) as ws:
        frames = [reading(device_id="sec-dev-9"), reading(device_id=DEVICE, value=s.admin_key)]
        for frame in [*frames, f"[{s.mongo_password}"]:
            ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            reply = str(ws.recv(30))
            world.captured[f"websocket reply #{len(world.captured)}"] = reply
            assert json.loads(reply)["type"] == "error", reply


def _stored(world: World) -> tuple[int, list[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(world.endpoints["mongodb"])
    try:
        db = client[world.database]
        return db["readings"].count_documents({}), list(db["devices"].find({}))
    finally:
        client.close()


def _hits(world: World) -> list[str]:
    found = []
    for where, text in world.captured.items():
        for name, needle in world.secrets.needles().items():
            if needle in text:
                at = text.index(needle)
                found.append(f"{name} in {where}: ...{text[max(0, at - 120) : at + 20]!r}")
    return found


def test_no_secret_reaches_logs_errors_metrics_or_command_output(world: World) -> None:
    assert eventually(_ready(f"{world.ingest_url}/readyz"), timeout=120), world.log("ingest")
    assert eventually(_ready(f"{world.sink_health}/healthz"), timeout=120), world.log("sink")
    call = Recorder(world)
    _drive_ingest(world, call)
    _drive_opensensemap(world, call)
    _drive_websocket(world)
    # The sink stored what was accepted (1 + 2 readings) and mirrored the box.
    assert eventually(lambda: _stored(world)[0] >= 3 and bool(_stored(world)[1]), timeout=120), (
        world.log("sink")
    )
    devices = _stored(world)[1]
    world.captured["sink's devices collection"] = json.dumps(devices, default=str)
    call("GET", "/metrics", 200)
    sink_metrics = httpx.get(f"{world.sink_health}/metrics", timeout=10)
    world.captured["sink /metrics"] = sink_metrics.text
    world.cli("keys list", "keys", "list")
    world.cli("devices list", "devices", "list", "--topic", world.devices_topic)
    world.cli("devices list --json", "devices", "list", "--json", "--topic", world.devices_topic)
    jobs_env = {
        "IOTPIPE_ADMIN_KEY": world.secrets.admin_key,
        "IOTPIPE_INGEST_URL": world.ingest_url,
    }
    world.cli("jobs list", "jobs", "list", env=jobs_env)
    world.cli("jobs list --json", "jobs", "list", "--json", env=jobs_env)
    for name in ("ingest", "sink"):
        stop(world.processes[name])
        world.captured[f"{name} log"] = world.log(name)
    # The capture is real: both processes logged what they did (at this level).
    ingest_log, sink_log = world.captured["ingest log"], world.captured["sink log"]
    assert '"POST /v1/readings HTTP/1.1" 401' in ingest_log
    assert "consuming" in sink_log and "iotpipe_sink_" in world.captured["sink /metrics"]
    if world.level == "debug":
        assert " DEBUG " in ingest_log and " DEBUG " in sink_log
        # uvicorn logged the WebSocket handshakes and frames; the redaction removed them.
        assert "< authorization: ***" in ingest_log.lower()
        assert "TEXT [payload not logged]" in ingest_log
    assert _hits(world) == []
