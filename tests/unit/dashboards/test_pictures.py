"""The picture of each dashboard's layout (docs/operations/dashboards/<uid>.svg): well-formed
SVG, a box per panel where its gridPos puts it, with its title and kind; kept current by
``iotpipe dashboards generate --check``."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from iotpipe.contract.catalog import Contract
from iotpipe.dashboards import render
from iotpipe.dashboards.kinds import GRAFANA_DIR
from iotpipe.dashboards.picture import COLUMN_PX, GAP, MARGIN, layout_svg

SVG = "{http://www.w3.org/2000/svg}"
BOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))


def groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """The picture's groups of one class ("panel ..." or "row"), by their title."""
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class", "").split()[0] == kind:
            found[group.findtext(f"{SVG}title") or ""] = group
    return found


def test_there_is_a_committed_picture_of_each_dashboard() -> None:
    names = sorted(p.name for p in render.PICTURES_DIR.glob("*.svg"))
    assert names == sorted(f"{json.loads(p.read_text())['uid']}.svg" for p in BOARDS)
    assert names == [
        "iotpipe-cluster.svg",
        "iotpipe-device.svg",
        "iotpipe-fleet.svg",
        "iotpipe-pipeline.svg",
    ]


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.stem)
def test_every_panel_is_a_box_where_its_grid_position_puts_it(board: Path) -> None:
    model = json.loads(board.read_text())
    picture = render.PICTURES_DIR / f"{model['uid']}.svg"
    root = ET.fromstring(picture.read_text())  # noqa: S314 - ours; well-formed or it raises
    assert root.tag == f"{SVG}svg"
    assert model["title"] in (root.findtext(f"{SVG}title") or "")
    boxes, rows = groups(root, "panel"), groups(root, "row")
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert sorted(boxes) == sorted(p["title"] for p in panels)
    assert sorted(rows) == sorted(p["title"] for p in model["panels"] if p["type"] == "row")
    for panel in panels:
        box = boxes[panel["title"]]
        assert box.get("class") == f"panel {panel['type']}"
        rect = box.find(f"{SVG}rect")
        assert rect is not None
        grid = panel["gridPos"]
        assert int(rect.get("x", "")) == MARGIN + grid["x"] * COLUMN_PX + GAP // 2
        assert int(rect.get("width", "")) == grid["w"] * COLUMN_PX - GAP
        texts = [t.text or "" for t in box.iter(f"{SVG}text")]
        assert texts[-1].startswith(panel["type"])  # the kind, at the bottom
        shown = " ".join(texts[:-1])
        assert shown.replace("-", "").split() == panel["title"].replace("-", "").split()


def test_a_title_too_long_for_its_box_is_cut_there_and_whole_in_its_title() -> None:
    long = "Under-replicated and offline partitions, by topic and by broker, per minute"
    model: dict[str, Any] = {
        "uid": "u",
        "title": "t & <b>",
        "panels": [
            {"type": "stat", "title": long, "gridPos": {"x": 0, "y": 0, "w": 3, "h": 3}},
            {"type": "geomap", "title": "Map", "gridPos": {"x": 3, "y": 0, "w": 21, "h": 3}},
        ],
    }
    svg = layout_svg(model)
    assert svg == layout_svg(model)  # byte-stable
    root = ET.fromstring(svg)  # noqa: S314 - made just above
    box = groups(root, "panel")[long]
    texts = [t.text or "" for t in box.iter(f"{SVG}text")]
    assert texts[-2].endswith("…")
    assert all(len(t) <= 16 for t in texts)  # 3 columns: ~16 characters of 13 px
    assert groups(root, "panel")["Map"].get("class") == "panel geomap"
    assert "t &amp; &lt;b&gt;" in svg


def test_check_fails_when_a_picture_is_stale_or_missing(tmp_path: Path) -> None:
    grafana, pictures = tmp_path / "grafana", tmp_path / "pictures"
    grafana.mkdir()
    shutil.copy(GRAFANA_DIR / "alert-settings.yaml", grafana)
    contract = Contract.load()
    written = render.write(contract, grafana, pictures)
    assert pictures / "iotpipe-fleet.svg" in written
    assert render.check(contract, grafana, pictures) == []
    fleet = pictures / "iotpipe-fleet.svg"
    fleet.write_text(fleet.read_text().replace("Readings per minute", "Readings"))
    (pictures / "iotpipe-device.svg").unlink()
    assert render.check(contract, grafana, pictures) == [
        fleet,
        pictures / "iotpipe-device.svg",
    ]
