"""Old consumers keep decoding: integrators' consumers pinned to the old schema read the
whole topic after a rollout, records of both writer versions.

They are the cross-language consumers of ``tests/interop`` (Node.js: kafkajs and
@kafkajs/confluent-schema-registry; Go: franz-go and hamba/avro), each fetching a
record's writer schema by the id in its frame and resolving it to the reader schema
passed as a flag: here the old one, which lacks the new field. They are installed and
built as ``tests/interop/clients.py`` does, into the same cache
(``~/.cache/iotpipe/interop``: ``npm ci`` from the lock file; ``go build`` from go.sum),
so a machine that ran the interop tests builds nothing. Their sources live in the
checkout's ``tests/interop``: outside a checkout, or without Node.js 20+ and npm or Go,
a consumer is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import PrerequisiteMissing
from iotpipe.paths import REPO_DIR
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import build_once, go_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.settings import StackSettings

__all__ = ["CONSUMERS", "ConsumerRun", "Skipped", "read_with"]

INTEROP = REPO_DIR / "tests" / "interop"
BUILD_TIMEOUT = 600.0


class Skipped(Exception):
    """A consumer cannot run here (no toolchain, no checkout): why."""


@dataclass(frozen=True)
class ConsumerRun:
    """What one consumer printed: (event_id, writer schema id, value) per reading, and
    whether any printed reading had the new field (a reader pinned to the old schema
    must not)."""

    language: str
    readings: Counter[tuple[str, int, float]]
    with_field: int
    seconds: float


def _cache() -> Path:
    return StackSettings().cache_dir / "interop"


def _tool(name: str, why: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Skipped(f"{name} is not on PATH ({why})")
    return found


def _sources(folder: str) -> Path:
    src = INTEROP / folder
    if not src.is_dir():
        raise Skipped(f"no {src}: the consumers' sources are in a checkout's tests/interop")
    return src


def node_command() -> list[str]:
    """``node consume.mjs`` beside its packages (installed once per lock file)."""
    src = _sources("node")
    node = _tool("node", "Node.js 20+")
    npm = _tool("npm", "installs kafkajs")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    if int(version.stdout.strip().lstrip("v").split(".")[0] or 0) < 20:
        raise Skipped(f"node {version.stdout.strip()} is too old (Node.js 20+ needed)")
    lock = (src / "package.json", src / "package-lock.json")
    cache = _cache()

    def npm_ci(out: Path) -> None:
        for file in lock:
            shutil.copy2(file, out / file.name)
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        _run([*command, "--cache", str(cache / "npm")], cwd=out, env=dict(os.environ))

    folder = build_once(cache / "node" / fingerprint(*lock), npm_ci)
    script = folder / "consume.mjs"
    partial = folder / f".consume.mjs.{os.getpid()}"
    shutil.copy2(src / "consume.mjs", partial)
    partial.replace(script)  # whole, even with another session reading it
    return [node, str(script)]


def go_command() -> list[str]:
    """The Go consumer's binary (built once per source)."""
    src = _sources("go")
    try:
        go = str(find_go())
    except PrerequisiteMissing as exc:
        raise Skipped(f"no Go toolchain ({exc})") from exc
    cache = _cache()
    sources = [src / "go.mod", src / "go.sum", *sorted(src.glob("*/*.go"))]
    binary = cache / "bin" / f"consume-{fingerprint(*sources)}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(f".{binary.name}.{os.getpid()}")
        env = {**go_env(cache.parent), "GOFLAGS": "-modcacherw -mod=readonly"}
        env["GOTOOLCHAIN"] = "local"
        _run([go, "build", "-trimpath", "-o", str(partial), "./consume"], cwd=src, env=env)
        partial.rename(binary)
    return [str(binary)]


# language -> (how to get its command, its flags' prefix: Node's parseArgs, Go's flag)
CONSUMERS = {"node": (node_command, "--"), "go": (go_command, "-")}


def read_with(
    language: str,
    *,
    kafka: str,
    registry: str,
    topic: str,
    count: int,
    schema: Path,
    field: str,
    out: Path,
) -> ConsumerRun:
    """``count`` readings of ``topic`` from its start by ``language``'s consumer, reader
    schema ``schema``; its lines kept in ``out``. Skipped if it cannot run here."""
    command, prefix = CONSUMERS[language]
    args = command()
    flags = {
        "brokers": kafka,
        "registry": registry,
        "topic": topic,
        "group": f"chaos-old-consumer-{language}-{uuid.uuid4().hex[:8]}",
        "count": str(count),
        "schema": str(schema),
    }
    for name, value in flags.items():
        args += [prefix + name, value]
    args.append(prefix + "from-beginning")
    began = time.monotonic()
    with out.open("w") as stdout:
        done = subprocess.run(
            args,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=180 + count / 1000,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f"{language} consumer: exit {done.returncode}: {done.stderr[-2000:]}")
    readings: Counter[tuple[str, int, float]] = Counter()
    with_field = 0
    with out.open() as lines:
        for line in lines:
            printed = json.loads(line)
            reading = printed["reading"]
            readings[(reading["event_id"], printed["schema_id"], reading["value"])] += 1
            with_field += field in reading
    return ConsumerRun(language, readings, with_field, seconds)


def _run(command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stdout}\n{done.stderr}")
