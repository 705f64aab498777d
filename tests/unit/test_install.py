"""The build cache, driven through a fake ``mvn`` on PATH (no network)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from rich.console import Console

from iotpipe.errors import BuildFailed
from iotpipe.stack.assets import assets_dir
from iotpipe.stack.install import Installer

FAKE_MVN = """#!/bin/sh
echo call >> "{calls}"
echo "Downloading from central: https://repo.maven.apache.org/fake.jar"
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}";; esac
done
[ -n "{fail}" ] && {{ echo "[ERROR] boom"; exit 1; }}
mkdir -p "$out" && touch "$out/kafka_2.13-4.3.1.jar"
"""


def install_fake_mvn(bin_dir: Path, calls: Path, *, fail: bool = False) -> None:
    bin_dir.mkdir(exist_ok=True)
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN.format(calls=calls, fail="yes" if fail else ""))
    mvn.chmod(mvn.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def installer(tmp_path: Path) -> Installer:
    return Installer(
        cache_dir=tmp_path / "cache", assets=assets_dir(), console=Console(file=io.StringIO())
    )


def test_second_request_builds_nothing(
    tmp_path: Path, installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    install_fake_mvn(tmp_path / "bin", calls)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    first = installer.kafka_libs()
    assert (first / "kafka_2.13-4.3.1.jar").is_file()
    monkeypatch.setenv("PATH", "")  # a cached artifact needs no Maven at all
    assert installer.kafka_libs() == first
    assert calls.read_text().count("call") == 1
    assert (tmp_path / "cache" / "logs" / "kafka-build.log").read_text().startswith("Downloading")


def test_failed_build_leaves_no_cache_entry_and_says_where_the_log_is(
    tmp_path: Path, installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    install_fake_mvn(tmp_path / "bin", calls, fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(BuildFailed, match=r"(?s)failed \(exit 1\).*kafka-build\.log.*boom"):
        installer.kafka_libs()
    assert not list((tmp_path / "cache" / "kafka").glob("*/.complete"))
    assert not list((tmp_path / "cache" / "kafka").glob(".*building*"))
