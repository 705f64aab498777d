"""What an owner does: ``iotpipe devices import`` their box, point it at a running
``iotpipe ingest``, and it posts as it did to openSenseMap. Boxes imported or removed
while ingest runs are honoured within seconds; ingest has no other source of boxes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.devices.world import eventually
from tests.scratch import Scratch
from tests.support import free_port, stop
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID, box_json

pytestmark = [pytest.mark.timeout(180)]
OTHER_ID = "5a1100000000000000d10000"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def ingest_url(
    endpoints: dict[str, str], registry_topic: str, tmp_path: Path, scratch: Scratch
) -> Iterator[str]:
    readings = scratch.topic("it-devices-e2e", push=True)
    port = free_port()
    env = {
        **os.environ,
        "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"],
        "IOTPIPE_REGISTRY_URL": endpoints["registry"],
        "IOTPIPE_INGEST_TOPIC": readings,
        "IOTPIPE_INGEST_DEVICES_TOPIC": registry_topic,
        "IOTPIPE_INGEST_KEYS_FILE": str(tmp_path / "keys.json"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "ingest", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        up = eventually(lambda: _answers(f"{url}/healthz"), timeout=60)
        assert up is not None, "ingest did not come up"
        yield url
    finally:
        stop(process, 15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def post(url: str, box_id: str, token: str | None) -> int:
    headers = {"Authorization": token} if token is not None else {}
    response = httpx.post(
        f"{url}/boxes/{box_id}/{SENSOR_ID}", json={"value": 21.5}, headers=headers, timeout=15
    )
    return response.status_code


def test_an_imported_box_posts_to_ingest_as_to_opensensemap(
    ingest_url: str, registry_topic: str, devices_cli: Cli, tmp_path: Path
) -> None:
    token = secrets.token_hex(32)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"boxes": [box_json(access_token=token)]}))
    assert post(ingest_url, BOX_ID, token) == 404  # not imported yet

    code, _, stderr = devices_cli("import", str(path), "--topic", registry_topic)
    assert code == 0, stderr
    took = eventually(lambda: post(ingest_url, BOX_ID, token) == 201, timeout=10)
    assert took is not None
    assert post(ingest_url, BOX_ID, "not-the-token") == 401
    assert post(ingest_url, BOX_ID, None) == 401

    other = box_json(OTHER_ID, useAuth=False)
    other.pop("access_token")
    path.write_text(json.dumps(other))
    code, _, stderr = devices_cli("import", str(path), "--topic", registry_topic)
    assert code == 0, stderr
    assert eventually(lambda: post(ingest_url, OTHER_ID, None) == 201, timeout=10) is not None

    code, _, stderr = devices_cli("remove", BOX_ID, "--topic", registry_topic)
    assert code == 0, stderr
    assert eventually(lambda: post(ingest_url, BOX_ID, token) == 404, timeout=10) is not None
    assert post(ingest_url, OTHER_ID, None) == 201  # the other box is untouched
