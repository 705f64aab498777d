"""Import files: openSenseMap's shapes accepted, every problem reported with its place."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from iotpipe.devices.boxes import hash_token
from iotpipe.devices.importing import parse_boxes
from iotpipe.errors import ConfigError
from iotpipe.paths import REPO_DIR
from tests.support import run_cli
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID, TOKEN, box_json

FIXTURES = REPO_DIR / "tests/fixtures/opensensemap"
OTHER_ID = "5a1100000000000000d10000"


def parse(data: Any) -> list[Any]:
    return parse_boxes(json.dumps(data), source="boxes.json")


def problems(data: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data) if not isinstance(data, str) else parse_boxes(data, source="boxes.json")
    return str(caught.value)


def test_one_box_a_list_and_an_object_with_boxes_are_all_accepted() -> None:
    one = parse(box_json())
    assert [b.id for b in one] == [BOX_ID]
    assert one[0].token_sha256 == hash_token(TOKEN)
    two = [box_json(), box_json(OTHER_ID, useAuth=False)]
    assert [b.id for b in parse(two)] == [BOX_ID, OTHER_ID]
    assert [b.id for b in parse({"boxes": two})] == [BOX_ID, OTHER_ID]
    assert [b.id for b in parse({"boxes": {"a": two[0], "b": two[1]}})] == [BOX_ID, OTHER_ID]


def test_the_owners_api_answers_import_as_saved() -> None:
    listing = {"code": "Ok", "data": {"boxes": [box_json()], "boxes_count": 1, "sharedBoxes": []}}
    assert [b.id for b in parse(listing)] == [BOX_ID]
    single = {"code": "Ok", "data": {"box": box_json(OTHER_ID)}}
    assert [b.id for b in parse(single)] == [OTHER_ID]
    says = problems({"code": "Ok", "data": {"boxes": [{"name": "x"}]}})
    assert "data.boxes[0]: box _id must be 24 hex characters" in says


def test_the_conformance_boxes_and_the_apidoc_box_import() -> None:
    boxes = parse_boxes((FIXTURES / "boxes.json").read_text(), source="boxes.json")
    assert len(boxes) == 7
    assert {b.use_auth for b in boxes} == {True, False}
    apidoc = json.loads((FIXTURES / "box_and_sensors.json").read_text())
    verbatim = {**apidoc["box_get_example_verbatim"]["json"], "access_token": TOKEN}
    (box,) = parse(verbatim)
    assert (box.name, len(box.sensors)) == ("Oststr/Mauritzsteinpfad", 7)


def test_not_json_says_where() -> None:
    says = problems('{"_id": "57000b8745fd40c8196ad04c",\n  "name": }')
    assert says.startswith("boxes.json is not JSON: Expecting value: line 2")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"name": "no id", "sensors": []}, "expected a box object (with _id), a JSON list"),
        (42, "boxes.json: expected a box object"),
        ([], "holds no boxes"),
        ({"boxes": []}, "holds no boxes"),
        ([{**box_json(), "_id": None}], "[0]: box _id must be 24 hex characters, got None"),
        ([{**box_json(), "_id": "abc"}], "[0]: box _id must be 24 hex characters, got 'abc'"),
        ([42], "[0]: expected a box object, got int"),
        (
            {"boxes": {"home": box_json(sensors=[{"_id": "temp", "title": "T"}])}},
            'boxes["home"]: box 57000b8745fd40c8196ad04c: sensors[0]._id must be 24 hex',
        ),
        (
            [box_json(sensors=[{"_id": SENSOR_ID}, {"_id": SENSOR_ID.upper()}])],
            f"[0]: box {BOX_ID}: sensor id {SENSOR_ID} appears twice",
        ),
        (
            [box_json(), box_json(OTHER_ID), box_json(name="again")],
            f"[2]: box {BOX_ID} appears twice (also [0])",
        ),
        (
            [{k: v for k, v in box_json().items() if k != "access_token"}],
            "[0]: box 57000b8745fd40c8196ad04c: useAuth is on but there is no access_token",
        ),
    ],
)
def test_each_problem_is_refused_with_its_place(data: Any, says: str) -> None:
    assert says in problems(data)


def test_every_problem_is_listed_at_once_and_nothing_is_taken() -> None:
    says = problems([box_json(_id="x"), box_json(), box_json(sensors="none")])
    assert says.startswith("boxes.json: 2 problem(s), nothing was imported:")
    assert "[0]: box _id must be" in says
    assert "[2]: box 57000b8745fd40c8196ad04c: 'sensors' must be a list" in says


def _cli(*args: str) -> tuple[int, str, str]:
    # Kafka is never asked: --dry-run, and an unroutable address to prove it.
    env = {**os.environ, "COLUMNS": "200", "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = run_cli("devices", "import", *args, "--dry-run", env=env)
    return result.returncode, result.stdout, result.stderr


def test_cli_dry_run_shows_the_boxes_and_never_a_token(tmp_path: Path) -> None:
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps([box_json(), box_json(OTHER_ID, name="Garten", useAuth=False)]))
    code, stdout, stderr = _cli(str(path))
    assert code == 0, stderr
    assert BOX_ID in stdout
    assert "Garten" in stdout
    rows = [line for line in stdout.splitlines() if OTHER_ID in line]
    assert rows
    assert rows[0].split("│")[-2].strip() == "off"
    assert "nothing was published" in stderr
    for secret in (TOKEN, hash_token(TOKEN)):
        assert secret not in stdout + stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{oops", "is not JSON"),
        (json.dumps([box_json(), box_json()]), "appears twice"),
        (json.dumps({"boxes": [{"name": "x", "sensors": []}]}), "boxes[0]: box _id must be"),
    ],
)
def test_cli_refuses_a_bad_file_in_plain_words(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "boxes.json"
    path.write_text(content)
    code, stdout, stderr = _cli(str(path))
    assert code == 2
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ")
    assert says in " ".join(stderr.split())
    assert stdout == ""
