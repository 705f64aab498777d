"""Download and build the local stack's services once, into a content-keyed cache.

Each artifact lives in ``<cache>/<service>/<hash of its build inputs>/`` and is marked
complete only after the build succeeded, so an interrupted build is redone and a second
``up`` downloads and builds nothing (and needs neither Maven nor Go).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from iotpipe.errors import BuildFailed
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.gopatch import load_patches, patched_copy, replacing_modfile
from iotpipe.stack.prereqs import find_go, find_maven
from iotpipe.stack.progress import run_logged

__all__ = ["Installer", "build_once", "go_env"]

DONE_MARK = ".complete"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"  # patched at build time: patches.json


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """``final``, built by ``build`` into a scratch folder beside it and renamed into
    place once complete; later calls find it there (an interrupted build leaves nothing
    that looks complete)."""
    if (final / DONE_MARK).exists():
        return final
    work = final.parent / f".{final.name}.building-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        build(work)
        (work / DONE_MARK).touch()
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


class Installer:
    """Provides each service's runnable files, building them on first use."""

    def __init__(self, *, cache_dir: Path, assets: Path, console: Console) -> None:
        self._cache = cache_dir
        self._assets = assets
        self._console = console

    def kafka_libs(self) -> Path:
        """A folder of jars holding the broker and its logging backend."""
        pom = self._assets / "kafka" / "pom.xml"
        return (
            self._cached(
                "kafka",
                fingerprint(pom),
                lambda out: self._maven(
                    "Downloading Apache Kafka (Maven Central)",
                    pom,
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={out / 'libs'}",
                ),
            )
            / "libs"
        )

    def registry_home(self) -> Path:
        """The unpacked Apicurio Registry archive (holds quarkus-run.jar)."""
        pom = self._assets / "registry" / "pom.xml"
        home = (
            self._cached(
                "registry",
                fingerprint(pom),
                lambda out: self._maven(
                    "Downloading Apicurio Registry (Maven Central, ~160 MB)",
                    pom,
                    "dependency:unpack",
                    f"-DoutputDirectory={out / 'dist'}",
                ),
            )
            / "dist"
        )
        if not (home / "quarkus-run.jar").is_file():
            raise BuildFailed(f"{home} holds no quarkus-run.jar; remove it and run up again")
        return home

    def ferretdb_binary(self) -> Path:
        """The FerretDB launcher built from compose/local/ferretdb, FerretDB patched as its
        patches.json says (see iotpipe.stack.gopatch)."""
        src = self._ferretdb_src
        key = fingerprint(src / "go.mod", src / "go.sum", src / "main.go", src / "patches.json")
        return self._cached("ferretdb", key, self._go_build) / "iotpipe-ferretdb"

    @property
    def _ferretdb_src(self) -> Path:
        return self._assets / "ferretdb"

    def _cached(self, name: str, key: str, build: Callable[[Path], None]) -> Path:
        return build_once(self._cache / name / key, build)

    def _maven(self, label: str, pom: Path, goal: str, *args: str) -> None:
        mvn = find_maven()
        run_logged(
            [mvn, "-B", "-f", pom, f"-Dmaven.repo.local={self._cache / 'm2'}", goal, *args],
            label=label,
            log_path=self._cache / "logs" / f"{pom.parent.name}-build.log",
            console=self._console,
        )

    def _go_build(self, out: Path) -> None:
        go = find_go()
        env = {**go_env(self._cache), "GOFLAGS": "-modcacherw -mod=readonly"}
        src = self._ferretdb_src
        module = _module_dir(go, FERRETDB_MODULE, cwd=src, env=env)
        work = out / "src"
        copy = patched_copy(module, load_patches(src / "patches.json"), work / "ferretdb")
        modfile = replacing_modfile(src, FERRETDB_MODULE, copy, work)
        run_logged(
            [
                go,
                "build",
                "-v",
                "-trimpath",
                f"-modfile={modfile}",
                "-o",
                out / "iotpipe-ferretdb",
                ".",
            ],
            label="Building FerretDB (Go module proxy, ~2 min)",
            log_path=self._cache / "logs" / "ferretdb-build.log",
            console=self._console,
            cwd=src,
            env=env,
        )
        shutil.rmtree(work)  # the binary is what is kept


def go_env(cache: Path) -> dict[str, str]:
    """The environment for Go under iotpipe's cache: its module and build caches there
    (module files writable, so the cache can be removed), no cgo."""
    return {
        **os.environ,
        "GOMODCACHE": str(cache / "go" / "mod"),
        "GOCACHE": str(cache / "go" / "build"),
        "GOFLAGS": "-modcacherw",
        "CGO_ENABLED": "0",
    }


def go_build_env(cache: Path) -> dict[str, str]:
    """``go_env`` for building a module of ours: its go.sum as committed (never
    rewritten) and the local toolchain (too old a Go fails instead of fetching another)."""
    return {**go_env(cache), "GOFLAGS": "-modcacherw -mod=readonly", "GOTOOLCHAIN": "local"}


def _module_dir(go: Path, module: str, *, cwd: Path, env: dict[str, str]) -> Path:
    """Where Go's module cache holds ``module`` at the version ``cwd``'s go.mod requires
    (downloaded first if need be)."""
    try:
        done = subprocess.run(
            [go, "mod", "download", "-json", module],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildFailed(f"go mod download {module} took over {exc.timeout:.0f} s") from exc
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = {}
    if done.returncode != 0 or not found.get("Dir"):
        why = found.get("Error") or done.stderr.strip()[-500:] or f"exit {done.returncode}"
        raise BuildFailed(f"go mod download {module} failed: {why}")
    return Path(found["Dir"])
