"""What ``iotpipe sink`` prints when its MongoDB URI (with a password) is wrong: the
error says what failed, never the password."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.security.world import command
from tests.support import free_port, stop

pytestmark = [pytest.mark.timeout(300)]
PASSWORD = f"S3cr3t-canary-{uuid.uuid4().hex[:8]}"
USER = f"iotpipe_sink:{PASSWORD}"

CASES = {
    # Nothing listens: server selection fails, the sink retries.
    "closed port": (f"mongodb://{USER}@127.0.0.1:{{port}}/", "preparing the database"),
    # FerretDB refuses SCRAM: authentication fails, the sink retries.
    "refused login": (f"mongodb://{USER}@{{mongo}}/?authSource=admin", "Authentication"),
    # pymongo refuses the URI itself: the sink exits.
    "malformed port": (f"mongodb://{USER}@127.0.0.1:notaport/", "Port"),
    "unescaped password": (f"mongodb://iotpipe_sink:{PASSWORD}:x@127.0.0.1:1/", "escaped"),
}  # fmt: skip


def _until(log: Path, process: subprocess.Popen[bytes], marker: str) -> str:
    deadline = time.monotonic() + 120  # a bound on waiting, not an assertion on speed
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if marker in text or process.poll() is not None:
            return text
        time.sleep(0.2)
    return log.read_text(errors="replace")


@pytest.mark.parametrize("level", ["info", "debug"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_wrong_uri_is_reported_without_its_password(
    case: str, level: str, endpoints: dict[str, str], tmp_path: Path
) -> None:
    template, marker = CASES[case]
    mongo = endpoints["mongodb"].split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    uri = template.format(port=free_port(), mongo=mongo)
    env = {
        **os.environ,
        "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"],
        "IOTPIPE_REGISTRY_URL": endpoints["registry"],
        "IOTPIPE_SINK_MONGODB_URI": uri,
        "IOTPIPE_SINK_TOPIC": f"it-sec-uri-{uuid.uuid4().hex[:8]}",
        "IOTPIPE_SINK_GROUP_ID": f"it-sec-uri-{uuid.uuid4().hex[:8]}",
        "IOTPIPE_SINK_DEVICES_MIRROR": "false",
        "IOTPIPE_SINK_HEALTH_PORT": "0",
    }
    log = tmp_path / "sink.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command(level, "sink"), env=env, stdout=out, stderr=out)
    try:
        text = _until(log, process, marker)
    finally:
        stop(process)
    text = log.read_text(errors="replace")
    assert marker in text, text[-3000:]
    assert PASSWORD not in text
