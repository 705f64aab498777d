"""Paused and retired devices are not silent: a device retired with the CLI and another
paused over HTTP (the real ingest app) reach a real sink through the registry topic, and
the committed "device silent" alert and the fleet dashboard's silent panels, run as
Grafana would against FerretDB, leave them out; reactivated, a device is silent again."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from generated.models import SensorReading
from ingest.auth.keys import KeyStore
from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.dashboards.probe import run
from tests.integration.devices.world import COMPACTED, make_topic
from tests.integration.sink.conftest import EXAMPLE, SinkWorld, partitions, sink_world
from tests.support import run_cli

__all__ = ["partitions", "sink_world"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LIVE, SILENT, RETIRED, PAUSED, UNSEEN = (
    "dev-live",
    "dev-silent",
    "dev-retired",
    "dev-paused",
    "dev-unseen",
)
ALERT = "alert iotpipe-device-silent A"
COUNT = "iotpipe-fleet: Devices silent for $silent_after"
LIST = "iotpipe-fleet: Silent devices"
REPORTING = "iotpipe-fleet: Devices reporting"


@pytest.fixture
def registry(sink_world: SinkWorld) -> str:
    name = f"{sink_world.topic}-devices"  # the world's topic family: removed with it
    make_topic(sink_world.endpoints["kafka"], name, COMPACTED)
    sink_world.env["IOTPIPE_SINK_DEVICES_TOPIC"] = name
    return name


def reading(device: str, when: datetime) -> SensorReading:
    return SensorReading.model_validate(
        {**EXAMPLE, "event_id": str(uuid.uuid4()), "device_id": device, "event_time": when}
    )


def eventually(check: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def test_paused_and_retired_devices_leave_the_silent_alert_and_panels(
    sink_world: SinkWorld, registry: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    long_ago = now - timedelta(minutes=40)  # silent: the alert's and panels' 15 minutes
    sink_world.produce(
        [reading(LIVE, now - timedelta(minutes=1))]
        + [reading(device, long_ago) for device in (SILENT, RETIRED, PAUSED)]
    )
    sink_world.start_sink()
    status = sink_world.mongo[sink_world.database]["device_status"]

    def states() -> dict[str, Any]:
        return {d["device_id"]: d.get("state") for d in status.find({"scope": "device"})}

    assert eventually(lambda: len(states()) == 4), states()

    # Retired with the CLI, as an operator would...
    env = {**os.environ, "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": sink_world.endpoints["kafka"]}
    retire = run_cli(
        "devices", "retire", RETIRED, "--reason", "replaced", "--topic", registry, env=env
    )
    assert retire.returncode == 0, retire.stderr
    assert f"device {RETIRED} is retired" in " ".join(retire.stderr.split())

    # ...paused over HTTP with an admin key (the real ingest app, writing the same topic).
    keys = KeyStore(tmp_path / "keys.json")
    admin = {"Authorization": f"Bearer {keys.create('ops', 'admin')[1]}"}
    settings = IngestSettings(
        kafka_bootstrap_servers=sink_world.endpoints["kafka"],
        registry_url=sink_world.endpoints["registry"],
        topic=sink_world.topic,
        keys_file=keys.path,
        devices_topic=registry,
        devices_wait_seconds=15,
    )
    with TestClient(build_app(settings)) as client:
        for device in (PAUSED, UNSEEN):  # UNSEEN: paused before its first reading
            put = client.put(f"/v1/devices/{device}/state", json={"state": "paused"}, headers=admin)
            assert put.status_code == 200, put.text
        # The follower reads the CLI's record too.
        assert eventually(
            lambda: (
                client.get(f"/v1/devices/{RETIRED}/state", headers=admin).json()["state"]
                == "retired"
            ),
            15,
        )

        expected = {
            LIVE: None,
            SILENT: None,
            RETIRED: "retired",
            PAUSED: "paused",
            UNSEEN: "paused",
        }
        assert eventually(lambda: states() == expected), states()

        rows = outcomes(sink_world, now)
        # Not in the registry: named by its id, no location.
        unnamed = {"device_id": SILENT, "name": SILENT, "location": "", "silent": 1}
        assert rows[ALERT] == [unnamed]
        assert rows[COUNT] == [{"devices": 1}]
        assert [r["device_id"] for r in rows[LIST]] == [SILENT]
        assert rows[REPORTING] == [{"devices": 4}]  # states change silence, not reporting

        # Reactivated, the retired device is silent again: alerted on and listed.
        back = client.put(f"/v1/devices/{RETIRED}/state", json={"state": "active"}, headers=admin)
        assert back.status_code == 200, back.text
    assert eventually(lambda: states()[RETIRED] == "active")
    rows = outcomes(sink_world, now)
    assert sorted(r["device_id"] for r in rows[ALERT]) == [RETIRED, SILENT]
    assert rows[COUNT] == [{"devices": 2}]
    assert sorted(r["device_id"] for r in rows[LIST]) == [RETIRED, SILENT]

    listed = run_cli("devices", "states", "--json", "--topic", registry, env=env)
    assert listed.returncode == 0, listed.stderr
    assert '"dev-retired"' in listed.stdout and '"active"' in listed.stdout


def outcomes(world: SinkWorld, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Every committed query's rows, run as Grafana would (time range, variables)."""
    found = run(
        world.mongo[world.database],
        Contract.load(),
        now=now + timedelta(seconds=5),
        variables={"device": LIVE, "sensor": "x", "kind": "TEMPERATURE", "silent_after": "15m"},
    )
    for outcome in found:
        if outcome.query.where in {ALERT, COUNT, LIST, REPORTING}:
            assert not outcome.problems, (outcome.query.where, outcome.problems)
    return {o.query.where: o.rows for o in found}
