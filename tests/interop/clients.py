"""The Node and Go programs of this folder, built once and run as an integrator runs them.

Their dependencies come from the lock files committed beside them (package-lock.json,
go.sum) and are cached under ``~/.cache/iotpipe/interop`` (npm's cache and the installed
packages; the Go binary) and ``~/.cache/iotpipe/go`` (Go's module and build caches,
shared with the stack's FerretDB build): a warm run builds nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotpipe.errors import PrerequisiteMissing
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import build_once, go_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.settings import StackSettings

__all__ = ["SCHEMA", "Program", "ToolMissing", "build_go", "install_node"]

HERE = Path(__file__).parent
SCHEMA = HERE.parents[1] / "schemas" / "sensor_reading.avsc"  # the consumers' reader schema
BUILD_TIMEOUT = 600.0


class ToolMissing(Exception):
    """A language's toolchain is not installed: its tests skip, saying which."""


@dataclass(frozen=True)
class Program:
    """A consumer or producer: the command line before its own flags."""

    language: str
    command: tuple[str, ...]
    flag_prefix: str  # "--" for Node's parseArgs, "-" for Go's flag package

    def run(
        self, flags: Mapping[str, str | None], *, stdin: str = "", timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run with ``flags`` (a None value: a flag without a value); fails on a non-zero exit."""
        args = [*self.command]
        for name, value in flags.items():
            args += [self.flag_prefix + name] + ([] if value is None else [value])
        done = subprocess.run(
            args, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{self.language}: exit {done.returncode}\n{done.stderr}"
        return done

    def consume(self, endpoints: Mapping[str, str], topic: str, count: int) -> list[dict[str, Any]]:
        """``count`` readings of ``topic`` from its start, in a group of their own, one
        dict per line printed."""
        done = self.run(
            {
                "brokers": endpoints["kafka"],
                "registry": endpoints["registry"],
                "topic": topic,
                "group": f"interop-{self.language}-{uuid.uuid4().hex[:8]}",
                "from-beginning": None,
                "count": str(count),
                "schema": str(SCHEMA),
            }
        )
        return [json.loads(line) for line in done.stdout.splitlines()]


def cache_dir() -> Path:
    return StackSettings().cache_dir / "interop"


def _tool(name: str, purpose: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(f"{name} is not on PATH ({purpose})")
    return found


def install_node(cache: Path | None = None) -> Path:
    """A folder with the Node programs and their packages (``npm ci`` from the lock file,
    once per lock file)."""
    cache = cache or cache_dir()
    node = _tool("node", "the Node interop tests need Node.js 20+")
    npm = _tool("npm", "the Node interop tests install kafkajs with npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    if int(version.stdout.strip().lstrip("v").split(".")[0] or 0) < 20:
        raise ToolMissing(f"node {version.stdout.strip()} is too old (Node.js 20+ needed)")
    src = HERE / "node"
    lock = (src / "package.json", src / "package-lock.json")

    def npm_ci(out: Path) -> None:
        for file in lock:
            shutil.copy2(file, out / file.name)
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        _run([*command, "--cache", str(cache / "npm")], cwd=out, env=os.environ)

    folder = build_once(cache / "node" / fingerprint(*lock), npm_ci)
    # The programs run from beside their node_modules (ESM resolves packages from the
    # file's own folder), copied afresh: they are not part of the cache key.
    for script in src.glob("*.mjs"):
        partial = folder / f".{script.name}.{os.getpid()}"
        shutil.copy2(script, partial)
        partial.replace(folder / script.name)  # whole, even with another session running
    return folder


def build_go(cache: Path | None = None) -> Path:
    """The Go consumer's binary, built once per source (``go build``, modules from go.sum)."""
    cache = cache or cache_dir()
    try:
        go = str(find_go())  # on PATH or where Go's installer puts it
    except PrerequisiteMissing as exc:
        raise ToolMissing(f"no Go toolchain ({exc})") from exc
    src = HERE / "go"
    binary = cache / "bin" / f"consume-{fingerprint(*_go_sources(src))}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f".{binary.name}.{os.getpid()}")
    env = {
        **go_env(cache.parent),  # module and build caches in ~/.cache/iotpipe/go
        "GOFLAGS": "-modcacherw -mod=readonly",  # go.sum as committed, never rewritten
        "GOTOOLCHAIN": "local",
    }
    _run([go, "build", "-trimpath", "-o", str(partial), "./consume"], cwd=src, env=env)
    partial.rename(binary)
    return binary


def _go_sources(src: Path) -> list[Path]:
    return [src / "go.mod", src / "go.sum", *sorted(src.glob("*/*.go"))]


def _run(command: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stdout}\n{done.stderr}")
