"""The server exactly as shipped: boxes imported with ``iotpipe devices import`` into a
registry topic, ``iotpipe ingest`` following it, and a senseBox WiFi request (bare LFs,
padded values, CRLF after the body) over a raw socket; the readings arrive in Kafka."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.opensensemap.conftest import (
    HOME,
    OsemServer,
    boxes_with_token,
    import_boxes,
    wait_listening,
)
from tests.integration.opensensemap.test_device_wire import sketch_request, split
from tests.scratch import Scratch
from tests.support import free_port, stop


@pytest.fixture
def shipped(endpoints: dict[str, str], tmp_path: Path, scratch: Scratch) -> Iterator[OsemServer]:
    topic = scratch.topic("it-osem-cli", push=True)
    devices, jobs = f"{topic}-devices", f"{topic}-jobs"  # its family: removed with it
    scratch.make_topics([devices, jobs], config={"cleanup.policy": "compact"})
    token = secrets.token_hex(32)
    import_boxes(tmp_path, token, devices, endpoints["kafka"])
    port = free_port()
    env = {
        **os.environ,
        "IOTPIPE_INGEST_TOPIC": topic,
        "IOTPIPE_INGEST_DEVICES_TOPIC": devices,
        "IOTPIPE_INGEST_JOBS_TOPIC": jobs,
        "IOTPIPE_INGEST_KEYS_FILE": str(tmp_path / "keys.json"),
    }
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "iotpipe", "ingest", "--port", str(port),
            "--kafka-bootstrap-servers", endpoints["kafka"],
            "--registry-url", endpoints["registry"],
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    try:
        wait_listening(port, process, timeout=60)
        yield OsemServer(port, topic, token, endpoints, process)
    finally:
        stop(process, 20)
        log.close()


def test_iotpipe_ingest_takes_a_wifi_sketch_request(shipped: OsemServer) -> None:
    lines = [("57000b8745fd40c8196ad052", 21.34), ("57000b8745fd40c8196ad051", 55.2)]
    body = b"".join(b"%s,%9.2f\n" % (sid.encode(), v) for sid, v in lines)
    since = shipped.mark()

    status, _, payload = split(shipped.send(sketch_request(shipped.token, body, len(body))))

    assert status == 201, payload
    assert json.loads(payload) == "Measurements saved in box"
    got = {r.model_dump()["sensor_id"]: r.model_dump() for r in shipped.consume(since, 2)}
    assert {sid: (r["device_id"], r["value"]) for sid, r in got.items()} == {
        sid: (HOME, value) for sid, value in lines
    }


def _request(server: OsemServer, method: str, path: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: ingress.opensensemap.org\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return server.send(head.encode() + body)


def test_the_shipped_ingest_reads_boxes_and_body_flags_from_the_registry(
    shipped: OsemServer,
) -> None:
    """GET /boxes/:boxId answers from the imported registry; a measurement route it does
    not serve says so; a luftdaten flag sent as a JSON body key reaches Kafka decoded."""
    status, headers, payload = split(_request(shipped, "GET", f"/boxes/{HOME}"))
    assert status == 200, payload
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["access-control-allow-origin"] == "*"
    box = json.loads(payload)
    home = next(b for b in boxes_with_token(shipped.token) if b["_id"] == HOME)
    assert box["_id"] == HOME
    assert [s["_id"] for s in box["sensors"]] == [s["_id"] for s in home["sensors"]]
    assert shipped.token not in payload.decode()

    status, _, payload = split(_request(shipped, "GET", f"/boxes/{HOME}/sensors"))
    assert (status, json.loads(payload)["code"]) == (404, "ResourceNotFound")

    luftdaten_box = "5a1100000000000000d10000"  # boxes.json: useAuth false
    body = json.dumps(
        {
            "luftdaten": True,
            "sensordatavalues": [
                {"value_type": "SDS_P1", "value": "5.38"},
                {"value_type": "SDS_P2", "value": "4.98"},
            ],
        }
    ).encode()
    since = shipped.mark()
    status, _, payload = split(_request(shipped, "POST", f"/boxes/{luftdaten_box}/data", body))
    assert status == 201, payload
    got = sorted(
        (r.model_dump()["device_id"], r.model_dump()["value"]) for r in shipped.consume(since, 2)
    )
    assert got == [(luftdaten_box, 4.98), (luftdaten_box, 5.38)]
