"""Every MongoDB query of the committed dashboards and alert rules, run as Grafana would
(time range and variables filled in, Extended JSON parsed) against a database the real
pipeline filled: HTTP -> ingest -> Kafka -> sink process -> FerretDB. The silent device
is in the pipeline's device registry topic (name, location), the live one is not: names,
locations and the fleet map come from the registry, with the id for an unknown device."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient
from pymongo.database import Database

from ingest.auth.keys import KeyStore
from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.dashboards.probe import Outcome, joined, run
from iotpipe.devices.kafka import publish_boxes
from tests.integration.devices.world import COMPACTED, make_topic
from tests.scratch import Scratch
from tests.support import sink_environment
from tests.unit.devices.registry_fakes import box

pytestmark = pytest.mark.timeout(240)

# The silent device is registered (a box id: 24 hex characters), the live one is not.
LIVE, SILENT = "box-live", "5a11000000000000000000a1"
SILENT_NAME, SILENT_AT = "Hafenkran", "51.96237, 7.64568"  # registry_fakes' location
SENSORS = [("temp", "TEMPERATURE", "Cel", 21.5), ("hum", "HUMIDITY", "%", 55.0)]
OUT_OF_RANGE = 85.0  # plausible for the schema, outside TEMPERATURE's alert range


@dataclass(frozen=True)
class Seeded:
    db: Database[dict[str, Any]]
    now: datetime
    sent: int


def reading(
    device: str, sensor: tuple[str, str, str, float], when: datetime, value: float
) -> dict[str, Any]:
    sensor_id, kind, unit, _ = sensor
    return {
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "sensor_id": sensor_id,
        "sensor_kind": kind,
        "unit": unit,
        "value": value,
        "event_time": when.isoformat().replace("+00:00", "Z"),
    }


def readings(now: datetime) -> list[dict[str, Any]]:
    rows = []
    for minutes_ago in range(10, 0, -1):
        moment = now - timedelta(minutes=minutes_ago)
        for sensor in SENSORS:
            rows.append(reading(LIVE, sensor, moment, sensor[3] + minutes_ago / 10))
    rows.append(reading(LIVE, SENSORS[0], now - timedelta(minutes=3, seconds=30), OUT_OF_RANGE))
    for minutes_ago in (50, 45, 40):  # then silent
        rows.append(reading(SILENT, SENSORS[0], now - timedelta(minutes=minutes_ago), 12.0))
    rows.append(reading(SILENT, SENSORS[0], now - timedelta(minutes=42), OUT_OF_RANGE))
    return rows


@pytest.fixture(scope="module")
def seeded(
    endpoints: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    module_scratch: Scratch,
) -> Iterator[Seeded]:
    topic = module_scratch.topic("it-dash", partitions=2, dlq=True, push=True)
    database = module_scratch.database("it_dash")
    registry = f"{topic}-devices"  # the topic's family: removed with it
    make_topic(endpoints["kafka"], registry, COMPACTED)
    publish_boxes(endpoints["kafka"], [box(SILENT, name=SILENT_NAME)], topic=registry)
    keys = KeyStore(Path(tmp_path_factory.mktemp("keys")) / "keys.json")
    admin_key = keys.create("ops", "admin")[1]
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url=endpoints["registry"],
        topic=topic,
        keys_file=keys.path,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    sent = readings(now)
    with TestClient(build_app(settings)) as client:
        response = client.post(
            "/v1/readings/batch", json=sent, headers={"Authorization": f"Bearer {admin_key}"}
        )
        assert response.status_code == 202, response.text
    env = sink_environment(endpoints, topic=topic, group=topic, database=database)
    env["IOTPIPE_SINK_DEVICES_TOPIC"] = registry
    sink = subprocess.Popen(
        [sys.executable, "-m", "iotpipe", "sink"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"], tz_aware=True)
    db = mongo[database]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and db["readings"].count_documents({}) < len(sent):
            time.sleep(0.5)
        assert db["readings"].count_documents({}) == len(sent)
        # Rollups and device status follow off the write path (flushed every second).
        while time.monotonic() < deadline and _counted(db) < len(sent):
            time.sleep(0.5)
        assert _counted(db) == len(sent)
        # Device status is written after the rollups, in its own bulk: wait for it too.
        while time.monotonic() < deadline and not _statuses_settled(db, now):
            time.sleep(0.5)
        assert _statuses_settled(db, now)
        yield Seeded(db, now, len(sent))
    finally:
        sink.terminate()
        sink.wait(30)
        mongo.close()


def _statuses_settled(db: Database[dict[str, Any]], now: datetime) -> bool:
    """Every device and sensor of ``readings(now)`` has a status with its latest time."""
    expected = {
        f"device|{LIVE}": now - timedelta(minutes=1),
        f"sensor|{LIVE}|temp": now - timedelta(minutes=1),
        f"sensor|{LIVE}|hum": now - timedelta(minutes=1),
        f"device|{SILENT}": now - timedelta(minutes=40),
        f"sensor|{SILENT}|temp": now - timedelta(minutes=40),
    }
    found = {d["_id"]: d.get("last_seen") for d in db["device_status"].find({}, {"last_seen": 1})}
    named = db["device_status"].find_one({"_id": f"device|{SILENT}", "name": SILENT_NAME})
    return found == expected and named is not None


def _counted(db: Database[dict[str, Any]]) -> int:
    return sum(int(r["count"]) for r in db["readings_1m"].find({}, {"count": 1}))


@pytest.fixture(scope="module")
def outcomes(seeded: Seeded) -> dict[str, Outcome]:
    found = run(
        seeded.db,
        Contract.load(),
        now=seeded.now + timedelta(seconds=5),
        variables={"device": LIVE, "sensor": "temp", "kind": "TEMPERATURE", "silent_after": "15m"},
    )
    return {o.query.where: o for o in found}


def test_every_query_runs_and_returns_what_its_panel_plots(outcomes: dict[str, Outcome]) -> None:
    assert len(outcomes) >= 15
    failing = {where: o.problems for where, o in outcomes.items() if o.problems}
    assert not failing


def test_the_answers_match_what_was_sent(seeded: Seeded, outcomes: dict[str, Outcome]) -> None:
    def rows(where: str) -> list[dict[str, Any]]:
        return outcomes[where].rows

    assert rows("iotpipe-fleet: Readings in range")[0]["readings"] == seeded.sent
    assert rows("iotpipe-fleet: Devices reporting") == [{"devices": 2}]
    assert rows("iotpipe-fleet: Devices silent for $silent_after") == [{"devices": 1}]
    assert [r["device_id"] for r in rows("iotpipe-fleet: Silent devices")] == [SILENT]
    by_kind = {r["_id"]: r["readings"] for r in rows("iotpipe-fleet: Readings by sensor kind")}
    assert by_kind == {"TEMPERATURE": 10 + 1 + 4, "HUMIDITY": 10}
    assert sorted(r["value"] for r in rows("iotpipe-device: variable device")) == sorted(
        [LIVE, SILENT]
    )
    assert sorted(r["value"] for r in rows("iotpipe-device: variable sensor")) == ["hum", "temp"]
    values = rows("iotpipe-device: $sensor")
    assert len(values) == 10 and max(r["max"] for r in values) == OUT_OF_RANGE
    assert rows("alert iotpipe-value-out-of-range A") == [{"_id": f"device|{LIVE}", "minutes": 1}]
    assert rows("alert iotpipe-device-silent A") == [
        {"device_id": SILENT, "name": SILENT_NAME, "location": SILENT_AT, "silent": 1}
    ]


def test_devices_are_shown_by_name_and_location_or_by_id(
    seeded: Seeded, outcomes: dict[str, Outcome]
) -> None:
    def rows(where: str) -> list[dict[str, Any]]:
        return outcomes[where].rows

    # The device variable: registered name as the label, the id as the value.
    labels = {r["value"]: r["text"] for r in rows("iotpipe-device: variable device")}
    assert labels == {LIVE: LIVE, SILENT: SILENT_NAME}
    [silent] = rows("iotpipe-fleet: Silent devices")
    assert (silent["name"], silent["location"]) == (SILENT_NAME, SILENT_AT)
    # The device panel ($device is the unregistered LIVE here): its id, no location.
    assert rows("iotpipe-device: Device") == [{"name": LIVE, "location": "", "device_id": LIVE}]
    registered = run(
        seeded.db,
        Contract.load(),
        now=seeded.now + timedelta(seconds=5),
        variables={
            "device": SILENT,
            "sensor": "temp",
            "kind": "TEMPERATURE",
            "silent_after": "15m",
        },
    )
    [device] = [o for o in registered if o.query.where == "iotpipe-device: Device"]
    assert device.rows == [{"name": SILENT_NAME, "location": SILENT_AT, "device_id": SILENT}]


def test_the_fleet_map_has_registered_locations_and_last_values(
    seeded: Seeded, outcomes: dict[str, Outcome]
) -> None:
    # Only the registered device has a location; its latest reading, however old.
    [row] = outcomes["iotpipe-fleet: Device locations and last values"].rows
    assert (row["name"], row["device_id"], row["location"]) == (SILENT_NAME, SILENT, SILENT_AT)
    assert (row["latitude"], row["longitude"]) == (51.962372, 7.64568)
    assert row["latest"] == {
        "time": seeded.now - timedelta(minutes=40),
        "sensor_id": "temp",
        "value": 12.0,
        "sensor_kind": "TEMPERATURE",
        "unit": "Cel",
    }
    live = seeded.db["device_status"].find_one({"_id": f"device|{LIVE}"})
    assert live is not None and "latitude" not in live
    # The live device's latest: the last minute's readings of both sensors (one instant:
    # the greater sensor id, "temp"), not the out-of-range one from 3.5 minutes ago.
    assert live["latest"]["time"] == seeded.now - timedelta(minutes=1)
    assert (live["latest"]["sensor_id"], live["latest"]["value"]) == ("temp", 21.5 + 0.1)


def test_the_out_of_range_alert_names_the_device_and_its_location(
    seeded: Seeded, outcomes: dict[str, Outcome]
) -> None:
    """The rule's $A + $B, as Grafana's math expression joins the two queries' rows by
    label: the minutes out of range, labelled with the device's name and location."""

    def alert(found: dict[str, Outcome]) -> list[tuple[dict[str, str], float]]:
        return joined(
            found["alert iotpipe-value-out-of-range A"].rows,
            found["alert iotpipe-value-out-of-range B"].rows,
        )

    # Now: the unregistered live device, by its id, without a location.
    live = {"_id": f"device|{LIVE}", "device_id": LIVE, "name": LIVE, "location": ""}
    assert alert(outcomes) == [(live, 1.0)]
    # 35 minutes ago: the registered device's out-of-range minute, by name and location.
    earlier = run(
        seeded.db,
        Contract.load(),
        now=seeded.now - timedelta(minutes=35),
        variables={
            "device": SILENT,
            "sensor": "temp",
            "kind": "TEMPERATURE",
            "silent_after": "15m",
        },
    )
    named = {
        "_id": f"device|{SILENT}",
        "device_id": SILENT,
        "name": SILENT_NAME,
        "location": SILENT_AT,
    }
    assert alert({o.query.where: o for o in earlier}) == [(named, 1.0)]
