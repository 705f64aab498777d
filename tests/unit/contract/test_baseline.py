from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from iotpipe.contract.baseline import contract_at
from iotpipe.errors import ConfigError
from iotpipe.paths import REPO_DIR


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "README").write_text("no schemas yet\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "first")
    shutil.copytree(REPO_DIR / "schemas", tmp_path / "schemas")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "schemas")
    return tmp_path


def test_contract_at_a_revision_reads_its_schemas(repo: Path) -> None:
    (repo / "schemas" / "sensor_reading.avsc").write_text("{}")  # working tree differs
    with contract_at("HEAD", repo / "schemas") as (sha, contract):
        assert sha == git(repo, "rev-parse", "HEAD")
        assert contract is not None
        assert [t.name for t in contract.record_types] == ["DeviceEvent", "SensorReading"]


def test_a_revision_without_schemas_has_no_contract(repo: Path) -> None:
    with contract_at("HEAD~1", repo / "schemas") as (_, contract):
        assert contract is None


def test_unknown_revision_is_a_clear_error(repo: Path) -> None:
    with (
        pytest.raises(ConfigError, match="'HEAD~5' not found"),
        contract_at("HEAD~5", repo / "schemas"),
    ):
        pass
