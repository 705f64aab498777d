"""Dashboards follow the contract: a sensor kind or a numeric field added to
schemas/sensor_reading.avsc reaches the generated dashboards and their pictures with
`iotpipe dashboards generate` alone, no hand edit."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from iotpipe.contract.catalog import Contract
from iotpipe.dashboards import render
from iotpipe.dashboards.kinds import GRAFANA_DIR, NumericField, numeric_fields, sensor_kinds
from iotpipe.paths import REPO_DIR

SVG = "{http://www.w3.org/2000/svg}"


def evolve(tmp_path: Path) -> Contract:
    """A copy of the contract with, as a newcomer would add them to the .avsc, a sensor
    kind (RADON), a numeric field (battery_v), and fields that are not quantities to plot
    (a string, a timestamp)."""
    folder = tmp_path / "schemas"
    shutil.copytree(REPO_DIR / "schemas", folder)
    path = folder / "sensor_reading.avsc"
    schema: dict[str, Any] = json.loads(path.read_text())
    kind = next(f for f in schema["fields"] if f["name"] == "sensor_kind")["type"]
    kind["symbols"].insert(kind["symbols"].index("OTHER"), "RADON")
    schema["fields"] += [
        {
            "name": "battery_v",
            "type": ["null", "double"],
            "default": None,
            "doc": "Battery voltage when the reading was taken.",
        },
        {"name": "firmware", "type": ["null", "string"], "default": None, "doc": "Build."},
        {
            "name": "calibrated_at",
            "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "default": None,
            "doc": "When the sensor was last calibrated.",
        },
    ]
    path.write_text(json.dumps(schema, indent=2))
    return Contract.load(folder)


@pytest.fixture
def generated(tmp_path: Path) -> dict[str, Path]:
    """`dashboards generate` of the evolved contract into temporary folders."""
    grafana, pictures = tmp_path / "grafana", tmp_path / "pictures"
    grafana.mkdir()
    shutil.copy(GRAFANA_DIR / "alert-settings.yaml", grafana / "alert-settings.yaml")
    render.write(evolve(tmp_path), grafana, pictures)
    return {"grafana": grafana, "pictures": pictures}


def board(folder: Path, uid: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "dashboards" / f"{uid}.json").read_text())
    return loaded


def boxes(picture: Path) -> dict[str, str]:
    """The picture's panel boxes and rows: title -> class."""
    root = ET.fromstring(picture.read_text())  # noqa: S314 - ours; well-formed or it raises
    return {
        g.findtext(f"{SVG}title") or "": g.get("class", "")
        for g in root.iter(f"{SVG}g")
        if g.get("class")
    }


def test_the_numeric_fields_are_the_top_level_numbers_besides_value(tmp_path: Path) -> None:
    assert numeric_fields(Contract.load()) == []  # today: value, and timestamps
    assert numeric_fields(evolve(tmp_path)) == [
        NumericField("battery_v", "Battery voltage when the reading was taken.")
    ]


def test_a_new_sensor_kind_reaches_the_fleet_dashboard(generated: dict[str, Path]) -> None:
    fleet = board(generated["grafana"], "iotpipe-fleet")
    [kind] = [v for v in fleet["templating"]["list"] if v["name"] == "kind"]
    assert "RADON" in kind["query"].split(",")
    assert "RADON" not in sensor_kinds(Contract.load())
    assert "RADON" not in board(GRAFANA_DIR, "iotpipe-fleet")["templating"]["list"][1]["query"]


def test_a_new_numeric_field_gets_a_panel_on_the_device_dashboard(
    generated: dict[str, Path],
) -> None:
    device = board(generated["grafana"], "iotpipe-device")
    panels = {p["title"]: p for p in device["panels"]}
    assert "battery_v" not in {p["title"] for p in board(GRAFANA_DIR, "iotpipe-device")["panels"]}
    assert panels["Other numbers the readings carry"]["type"] == "row"
    panel = panels["battery_v"]
    assert panel["type"] == "timeseries"
    assert panel["description"].startswith("Battery voltage when the reading was taken.")
    [target] = panel["targets"]
    assert target["collection"] == "readings"
    pipeline = json.loads(target["queryText"])
    assert pipeline[0]["$match"]["battery_v"] == {"$ne": None}
    assert pipeline[0]["$match"]["device_id"] == "$device"
    assert pipeline[-1]["$project"] == {"_id": 0, "event_time": 1, "battery_v": 1}
    assert not {"firmware", "calibrated_at", "location"} & set(panels)


def test_the_device_dashboards_picture_shows_the_new_panel(generated: dict[str, Path]) -> None:
    drawn = boxes(generated["pictures"] / "iotpipe-device.svg")
    assert drawn["battery_v"] == "panel timeseries"
    assert drawn["Other numbers the readings carry"] == "row"
    committed = boxes(render.PICTURES_DIR / "iotpipe-device.svg")
    assert "battery_v" not in committed
    assert set(committed) < set(drawn)
