"""The device dashboard's panel of a numeric field added to the contract, its query run as
Grafana would against FerretDB: the device's readings that carry the field, in time order;
readings written before the field existed (without it) left out."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from iotpipe.contract.catalog import Contract
from iotpipe.dashboards import render
from iotpipe.dashboards.kinds import GRAFANA_DIR
from iotpipe.dashboards.probe import run
from iotpipe.paths import REPO_DIR


@pytest.fixture
def db(endpoints: dict[str, str]) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"], tz_aware=True)
    name = f"it_dashfield_{uuid.uuid4().hex[:8]}"
    yield client[name]
    client.drop_database(name)
    client.close()


def evolved(tmp_path: Path) -> tuple[Contract, Path]:
    """The contract with an optional battery_v, and `dashboards generate` of it."""
    folder = tmp_path / "schemas"
    shutil.copytree(REPO_DIR / "schemas", folder)
    path = folder / "sensor_reading.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append(
        {"name": "battery_v", "type": ["null", "double"], "default": None, "doc": "Volts."}
    )
    path.write_text(json.dumps(schema))
    contract = Contract.load(folder)
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    shutil.copy(GRAFANA_DIR / "alert-settings.yaml", grafana)
    render.write(contract, grafana, tmp_path / "pictures")
    return contract, grafana


def test_the_panel_plots_the_readings_that_carry_the_field(
    db: Database[dict[str, Any]], tmp_path: Path
) -> None:
    contract, grafana = evolved(tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)

    def reading(device: str, minutes_ago: int, **extra: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "device_id": device,
            "sensor_id": "temp",
            "value": 20.0,
            "event_time": now - timedelta(minutes=minutes_ago),
            **extra,
        }

    db["readings"].insert_many(
        [
            reading("box-a", 30),  # written before the field existed
            reading("box-a", 20, battery_v=3.71),
            reading("box-a", 10, battery_v=3.69),
            reading("box-a", 12, battery_v=None),  # sent without it by a newer producer
            reading("box-a", 5, battery_v=3.68),
            reading("box-b", 5, battery_v=4.2),  # another device
            reading("box-a", 60 * 24, battery_v=3.9),  # outside the dashboard's 6 hours
        ]
    )
    outcomes = {
        o.query.where: o
        for o in run(
            db,
            contract,
            now=now + timedelta(seconds=5),
            variables={
                "device": "box-a",
                "sensor": "temp",
                "kind": "TEMPERATURE",
                "silent_after": "15m",
            },
            grafana_dir=grafana,
        )
    }
    plotted = outcomes["iotpipe-device: battery_v"]
    assert plotted.problems == []
    assert [(r["event_time"], r["battery_v"]) for r in plotted.rows] == [
        (now - timedelta(minutes=20), 3.71),
        (now - timedelta(minutes=10), 3.69),
        (now - timedelta(minutes=5), 3.68),
    ]
    assert all(set(r) == {"event_time", "battery_v"} for r in plotted.rows)
