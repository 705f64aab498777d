"""Builds for the interop tests, made once per content of their inputs and kept under
``~/.cache/iotpipe/interop/<name>/<fingerprint>``: a Maven project's classpath, a Node
folder's ``node_modules`` (``npm ci`` from its lock). A missing toolchain skips the test
that needs it, saying which; a build that fails fails it, with the tool's output."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from iotpipe.errors import PrerequisiteMissing
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import build_once
from iotpipe.stack.prereqs import find_java
from iotpipe.stack.settings import StackSettings

__all__ = ["interop_cache", "java_or_skip", "maven_build", "node_project", "run"]


def interop_cache() -> Path:
    return StackSettings().cache_dir / "interop"


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> str:
    """``cmd``'s stdout (UTF-8); with ``check``, a non-zero exit fails the test with the
    whole output."""
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {done.returncode}\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return done.stdout


def java_or_skip() -> Path:
    try:
        return find_java().executable
    except PrerequisiteMissing as exc:
        pytest.skip(f"no Java here: {exc}")


def maven_build(project: Path) -> str:
    """The runtime classpath of the Maven project in ``project`` (compiled classes, then
    its dependencies from Maven Central), built once for its pom and sources."""
    inputs = [project / "pom.xml", *sorted(p for p in (project / "src").rglob("*") if p.is_file())]
    m2 = StackSettings().cache_dir / "m2"

    def build(out: Path) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:  # needed once: a build already cached runs without it
            pytest.skip("no Maven here (mvn on PATH builds the Java consumer once)")
        run(
            [mvn, "-B", "-q", "-f", project / "pom.xml", f"-Dmaven.repo.local={m2}",
             f"-Dbuild.dir={out}", "compile", "dependency:build-classpath",
             f"-Dmdep.outputFile={out / 'classpath.txt'}"],
        )  # fmt: skip

    built = _build_once(project.name, fingerprint(*inputs), build)
    return f"{built / 'classes'}:{(built / 'classpath.txt').read_text().strip()}"


def node_project(project: Path) -> Path:
    """A folder holding ``project``'s packages (``npm ci`` from its ``package-lock.json``,
    installed once per lock) and a fresh copy of its scripts (``*.mjs``; ESM resolves
    packages from the script's own folder), from which they run."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("no Node.js here (node and npm are needed)")
    inputs = [project / "package.json", project / "package-lock.json"]

    def install(out: Path) -> None:
        for file in inputs:
            shutil.copy(file, out / file.name)
        run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
             "--cache", interop_cache() / "npm"], cwd=out)  # fmt: skip

    folder = _build_once(project.name, fingerprint(*inputs), install)
    for script in project.glob("*.mjs"):
        partial = folder / f".{script.name}.{os.getpid()}"
        shutil.copy(script, partial)
        partial.replace(folder / script.name)  # whole, even with another session reading it
    return folder


def _build_once(name: str, key: str, build: Callable[[Path], None]) -> Path:
    """``interop/<name>/<key>``, built once; the builds of older inputs are removed."""
    folder = build_once(interop_cache() / name / key, build)
    for stale in folder.parent.iterdir():
        if stale.name != key and not stale.name.startswith("."):  # another's build under way
            shutil.rmtree(stale, ignore_errors=True)
    return folder
