"""iotpipe.interop's build cache and client runs, driven through fake tools and small
Python programs (no network, no real toolchain)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from iotpipe.interop import CommandFailed, Program, ToolMissing, maven_classpath, node_project

FAKE_NODE = '#!/bin/sh\necho "v{major}.11.0"\n'
FAKE_NPM = """#!/bin/sh
echo "$PWD $*" >> "{calls}"
mkdir -p node_modules/kafkajs && cp package-lock.json node_modules/kafkajs/lock
"""


def _tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "node"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "x"}')
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (folder / "consume.mjs").write_text("// v1")
    return folder


def _fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, major: int = 20) -> Path:
    calls = tmp_path / "npm-calls"
    _tool(tmp_path / "bin", "node", FAKE_NODE.format(major=major))
    _tool(tmp_path / "bin", "npm", FAKE_NPM.format(calls=calls))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    return calls


def test_a_node_folder_is_installed_once_per_lock_and_older_installs_removed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_node(tmp_path, monkeypatch)
    cache = tmp_path / "cache" / "interop"
    first = node_project(project, cache=cache)
    assert first.parent == cache / "node"
    assert (first / "node_modules/kafkajs/lock").read_text() == '{"lockfileVersion": 3}'
    assert "ci --ignore-scripts" in calls.read_text()
    assert f"--cache {cache / 'npm'}" in calls.read_text()
    assert (first / "consume.mjs").read_text() == "// v1"

    (project / "consume.mjs").write_text("// v2")  # a script is not part of the key
    assert node_project(project, cache=cache) == first
    assert len(calls.read_text().splitlines()) == 1  # warm: npm not run again
    assert (first / "consume.mjs").read_text() == "// v2"  # but copied afresh

    (project / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    second = node_project(project, cache=cache)
    assert second != first and len(calls.read_text().splitlines()) == 2
    assert [p.name for p in (cache / "node").iterdir()] == [second.name]  # the older removed


def test_a_missing_or_old_node_is_a_missing_tool(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing, match="node is not on PATH"):
        node_project(project, cache=tmp_path / "cache")
    calls = _fake_node(tmp_path, monkeypatch, major=18)
    with pytest.raises(ToolMissing, match=r"node v18\.11\.0 is too old"):
        node_project(project, cache=tmp_path / "cache")
    assert not calls.exists()


def test_maven_is_needed_only_to_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "java"
    (project / "src").mkdir(parents=True)
    (project / "pom.xml").write_text("<project/>")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing, match="no Maven here"):
        maven_classpath(project, cache=tmp_path / "cache")


def _python(code: str) -> Program:
    return Program("python", (sys.executable, "-c", code), "--")


def test_a_client_is_read_line_by_line_with_its_flags() -> None:
    printed = _python(
        "import json, sys; print(json.dumps({'argv': sys.argv[1:]})); print(json.dumps({'n': 2}))"
    ).consume(kafka="k:9092", registry="http://r", topic="t", count=2, schema=Path("s.avsc"))
    flags = next(printed)["argv"]
    assert flags[:6] == ["--brokers", "k:9092", "--registry", "http://r", "--topic", "t"]
    assert flags[6] == "--group" and flags[7].startswith("interop-python-")
    assert flags[8:] == ["--from-beginning", "--count", "2", "--schema", "s.avsc"]
    assert list(printed) == [{"n": 2}]


def test_a_client_that_fails_or_hangs_says_so_with_its_output() -> None:
    failing = _python("import sys; print('{}'); sys.exit('broker unreachable')")
    with pytest.raises(CommandFailed, match="broker unreachable") as failed:
        list(failing.consume(kafka="k", registry="r", topic="t", count=1, schema=Path("s")))
    assert failed.value.why == "exit 1"
    hanging = _python("import time; print('{}', flush=True); time.sleep(30)")
    with pytest.raises(CommandFailed, match="no exit after 1 s"):
        list(
            hanging.consume(
                kafka="k", registry="r", topic="t", count=1, schema=Path("s"), timeout=1
            )
        )
