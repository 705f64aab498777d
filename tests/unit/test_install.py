"""The build cache, driven through a fake ``mvn`` on PATH (no network)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from rich.console import Console

from iotpipe.errors import BuildFailed
from iotpipe.stack.assets import assets_dir
from iotpipe.stack.gopatch import load_patches
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


FAKE_GO = """#!/bin/sh
echo "$@" >> "{calls}"
if [ "$1" = mod ]; then
  [ -n "{fail}" ] && {{ echo '{{"Path": "m", "Error": "proxy unreachable"}}'; exit 1; }}
  echo '{{"Path": "github.com/FerretDB/FerretDB", "Version": "v1.24.2", "Dir": "{module}"}}'
  exit 0
fi
for arg in "$@"; do
  case "$arg" in -modfile=*) modfile="${{arg#-modfile=}}";; esac
  [ "$prev" = "-o" ] && out="$arg"
  prev="$arg"
done
copy=$(sed -n 's/^replace github.com.FerretDB.FerretDB => //p' "$modfile")
[ -n "$copy" ] || {{ echo "no replace in $modfile"; exit 3; }}
cp "$copy/{patched}" "$out.built-from"
touch "$out"
"""


def install_fake_go(
    bin_dir: Path, calls: Path, module: Path, patched: str, *, fail: bool = False
) -> None:
    bin_dir.mkdir(exist_ok=True)
    go = bin_dir / "go"
    go.write_text(
        FAKE_GO.format(calls=calls, module=module, patched=patched, fail="yes" if fail else "")
    )
    go.chmod(go.stat().st_mode | stat.S_IXUSR)


def test_ferretdb_is_built_from_a_patched_copy_of_its_module(
    tmp_path: Path, installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    [patch] = load_patches(assets_dir() / "ferretdb" / "patches.json")
    module = tmp_path / "modcache" / "ferretdb@v1.24.2"
    (module / patch.file).parent.mkdir(parents=True)
    (module / patch.file).write_text(f"package metadata\n\nconst (\n\t{patch.old}\n)\n")
    calls = tmp_path / "calls"
    install_fake_go(tmp_path / "bin", calls, module, patch.file)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")

    binary = installer.ferretdb_binary()

    built_from = (binary.parent / "iotpipe-ferretdb.built-from").read_text()
    assert patch.new in built_from and patch.old not in built_from
    assert patch.old in (module / patch.file).read_text()  # the module cache is untouched
    assert not (binary.parent / "src").exists()  # the copy is not kept
    assert calls.read_text().splitlines()[0] == "mod download -json github.com/FerretDB/FerretDB"
    monkeypatch.setenv("PATH", "")
    assert installer.ferretdb_binary() == binary  # cached: no Go needed any more


def test_a_module_that_cannot_be_downloaded_fails_the_build_with_go_s_reason(
    tmp_path: Path, installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_go(tmp_path / "bin", tmp_path / "calls", tmp_path / "none", "x", fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(BuildFailed, match=r"go mod download \S+ failed: proxy unreachable"):
        installer.ferretdb_binary()
    assert not list((tmp_path / "cache" / "ferretdb").glob("*/.complete"))
