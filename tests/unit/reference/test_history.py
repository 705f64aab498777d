"""Each schema's versions come from git (content only) and say what changed."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from iotpipe.contract.catalog import Contract
from iotpipe.errors import ConfigError
from iotpipe.paths import REPO_DIR
from iotpipe.reference.history import changes, schema_versions, versions

READING = json.loads((REPO_DIR / "schemas/sensor_reading.avsc").read_text())


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def geo(schema: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in field(schema, "location")["type"] if isinstance(b, dict))


def test_changes_names_each_kind_of_change() -> None:
    new = copy.deepcopy(READING)
    new["fields"].append(
        {"name": "battery", "type": ["null", "double"], "default": None, "doc": "Volts."}
    )
    new["fields"] = [f for f in new["fields"] if f["name"] != "quality"]
    field(new, "unit")["rules"]["maxLength"] = 16
    field(new, "unit")["doc"] = "Another description."
    field(new, "metadata")["default"] = {"a": "b"}
    field(new, "sensor_kind")["type"]["symbols"].insert(0, "RADIATION")
    geo(new)["fields"].append({"name": "accuracy_m", "type": "float", "default": 0.0})
    described = changes(READING, new)
    assert "enum `ReadingQuality` removed" in described
    assert "`SensorReading.battery` added: double or null, default null" in described
    assert "`SensorReading.quality` removed" in described
    assert "`SensorReading.unit`: description changed" in described
    assert (
        '`SensorReading.unit`: rules {"minLength": 1, "maxLength": 32} → '
        '{"minLength": 1, "maxLength": 16}'
    ) in described
    assert '`SensorReading.metadata`: default {} → default {"a": "b"}' in described
    assert "`SensorKind`: symbols added: `RADIATION`" in described
    assert "`GeoLocation.accuracy_m` added: float, default 0.0" in described


def test_a_type_change_and_a_required_field_are_named() -> None:
    new = copy.deepcopy(READING)
    field(new, "value")["type"] = "float"
    new["fields"].append({"name": "site", "type": "string"})
    assert changes(READING, new) == [
        "`SensorReading.value`: type double → float",
        "`SensorReading.site` added: string, no default",
    ]


def test_versions_number_them_and_describe_the_first() -> None:
    later = copy.deepcopy(READING)
    field(later, "unit")["doc"] = "changed"
    reordered = {k: later[k] for k in reversed(list(later))}  # same schema, other key order
    numbered = versions([READING, later, reordered])
    assert [v.number for v in numbered] == [1, 2, 3]
    assert numbered[0].changes == ("first version: 14 fields in 4 named types",)
    assert numbered[1].changes == ("`SensorReading.unit`: description changed",)
    assert "written differently" in numbered[2].changes[0]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    shutil.copytree(REPO_DIR / "schemas", tmp_path / "schemas")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    return tmp_path


def rewrite(path: Path, change: Any, *, indent: int | None = 2) -> None:
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=indent))


def test_versions_come_from_the_commits_and_the_working_tree(repo: Path) -> None:
    reading = repo / "schemas/sensor_reading.avsc"
    rewrite(reading, lambda s: s["fields"].append({"name": "x", "type": "int", "default": 0}))
    git(repo, "commit", "-qam", "v2")
    rewrite(reading, lambda s: None, indent=None)  # whitespace only: no new version
    git(repo, "commit", "-qam", "reformatted")
    (repo / "unrelated.txt").write_text("a commit that leaves schemas/ alone\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "other")
    rewrite(reading, lambda s: field(s, "x").update(doc="An x."))  # not committed
    found = schema_versions(Contract.load(repo / "schemas"))
    assert len(found["dev.iotpipe.DeviceEvent"]) == 1
    history = versions(found["dev.iotpipe.SensorReading"])
    assert [v.changes for v in history[1:]] == [
        ("`SensorReading.x` added: int, default 0",),
        ("`SensorReading.x`: description changed",),
    ]


def test_a_shallow_clone_is_refused_with_the_fix(repo: Path, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ConfigError, match="git fetch --unshallow"):
        schema_versions(Contract.load(shallow / "schemas"))


def test_schemas_outside_git_are_refused(tmp_path: Path) -> None:
    shutil.copytree(REPO_DIR / "schemas", tmp_path / "schemas")
    with pytest.raises(ConfigError, match="not in a git checkout"):
        schema_versions(Contract.load(tmp_path / "schemas"))
