"""The cross-language clients of ``tests/interop``, installed and built once under
``~/.cache/iotpipe/interop``.

They are programs as integrators write them (Node.js: kafkajs and
@kafkajs/confluent-schema-registry; Go: franz-go and hamba/avro; Java: Apicurio's
deserializer; a generated TypeScript HTTP client; the published documents' validators).
The interop tests run them, and so do the chaos rollout scenarios (consumers pinned to
an old schema read the topic after a schema change), from the same cache.

Each folder is built from the lock files committed in it and kept in
``interop/<folder>/<fingerprint of its inputs>``: ``npm ci`` for a Node folder (npm's own
cache in ``interop/npm``), ``go build`` for the Go one (modules as go.sum has them; Go's
module and build caches in ``~/.cache/iotpipe/go``, shared with the stack's FerretDB
build), the runtime classpath for a Maven one (its repository in ``~/.cache/iotpipe/m2``).
A warm cache builds nothing; when the inputs change, the builds of older inputs are
removed. A missing toolchain (or, outside a checkout, missing sources) raises
:class:`ToolMissing`, saying which; a command that fails raises :class:`CommandFailed`
with the tool's output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotpipe.errors import IotpipeError, PrerequisiteMissing
from iotpipe.paths import REPO_DIR
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import build_once, go_build_env
from iotpipe.stack.prereqs import find_go, find_maven
from iotpipe.stack.settings import StackSettings

__all__ = [
    "CommandFailed",
    "Program",
    "ToolMissing",
    "cache_dir",
    "go_build",
    "go_consumer",
    "maven_classpath",
    "node_program",
    "node_project",
    "run",
    "sources",
]

INTEROP = REPO_DIR / "tests" / "interop"
BUILD_TIMEOUT = 600.0
MIN_NODE = 20


class ToolMissing(PrerequisiteMissing):
    """A client cannot be built here: its toolchain (or, outside a checkout, its
    sources) is missing. Its tests skip, saying which."""


class CommandFailed(IotpipeError):
    """A build or a client exited with an error or ran out of time; ``output`` is what it
    printed (standard output, then standard error)."""

    def __init__(self, command: Sequence[str], why: str, output: str) -> None:
        super().__init__(f"{' '.join(command)}: {why}\n{output}")
        self.command, self.why, self.output = list(command), why, output


def cache_dir() -> Path:
    return StackSettings().cache_dir / "interop"


def sources(name: str) -> Path:
    """``tests/interop/<name>``: in a checkout only."""
    folder = INTEROP / name
    if not folder.is_dir():
        raise ToolMissing(f"no {folder}: the interop clients' sources are in a checkout")
    return folder


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = BUILD_TIMEOUT,
    check: bool = True,
    stdin: str = "",
) -> str:
    """``command``'s standard output (UTF-8); with ``check``, a non-zero exit raises
    :class:`CommandFailed` with the whole output (so does running out of time)."""
    args = [str(c) for c in command]
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=stdin,
            capture_output=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        printed = [_text(exc.stdout), _text(exc.stderr)]
        raise CommandFailed(args, f"no exit after {timeout:g} s", "\n".join(printed)) from exc
    if check and done.returncode != 0:
        raise CommandFailed(args, f"exit {done.returncode}", f"{done.stdout}\n{done.stderr}")
    return done.stdout


def _text(printed: str | bytes | None) -> str:
    return printed.decode(errors="replace") if isinstance(printed, bytes) else printed or ""


def _tool(name: str, purpose: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(f"{name} is not on PATH ({purpose})")
    return found


def node() -> str:
    """The ``node`` on PATH, if it is Node.js 20 or newer."""
    found = _tool("node", f"the Node.js clients need Node.js {MIN_NODE}+")
    version = run([found, "--version"], timeout=30, check=False).strip()
    if int(version.lstrip("v").split(".")[0] or 0) < MIN_NODE:
        raise ToolMissing(f"node {version} is too old (Node.js {MIN_NODE}+ needed)")
    return found


def node_project(project: Path, *, cache: Path | None = None) -> Path:
    """A folder holding ``project``'s packages (``npm ci`` from its ``package-lock.json``,
    installed once per lock) and a fresh copy of its scripts (``*.mjs``; ESM resolves
    packages from the script's own folder), from which they run."""
    cache = cache or cache_dir()
    node()
    npm = _tool("npm", "installs the Node.js clients' packages")
    inputs = [project / "package.json", project / "package-lock.json"]

    def install(out: Path) -> None:
        for file in inputs:
            shutil.copy2(file, out / file.name)
        run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
             "--cache", cache / "npm"], cwd=out)  # fmt: skip

    folder = _build_once(cache / project.name, fingerprint(*inputs), install)
    # The scripts are not part of the key: copied afresh on every call.
    for script in project.glob("*.mjs"):
        partial = folder / f".{script.name}.{os.getpid()}"
        shutil.copy2(script, partial)
        partial.replace(folder / script.name)  # whole, even with another session reading it
    return folder


def go_build(project: Path, package: str = "./consume", *, cache: Path | None = None) -> Path:
    """The binary of ``project``'s ``package``, built once per source (``go build``;
    modules as go.sum has them, never rewritten; the local toolchain, never another)."""
    cache = cache or cache_dir()
    try:
        go = str(find_go())  # on PATH or where Go's installer puts it
    except PrerequisiteMissing as exc:
        raise ToolMissing(f"no Go toolchain ({exc})") from exc
    inputs = [project / "go.mod", project / "go.sum", *sorted(project.glob("*/*.go"))]
    name = Path(package).name
    env = go_build_env(cache.parent)  # module and build caches in ~/.cache/iotpipe/go

    def build(out: Path) -> None:
        run([go, "build", "-trimpath", "-o", out / name, package], cwd=project, env=env)

    return _build_once(cache / project.name, fingerprint(*inputs), build) / name


def maven_classpath(project: Path, *, cache: Path | None = None) -> str:
    """The runtime classpath of the Maven project in ``project`` (compiled classes, then
    its dependencies from Maven Central), built once for its pom and sources. Maven is
    needed for the build only: a cached build runs without it."""
    cache = cache or cache_dir()
    inputs = [project / "pom.xml", *sorted(p for p in (project / "src").rglob("*") if p.is_file())]

    def build(out: Path) -> None:
        try:
            mvn = find_maven()
        except PrerequisiteMissing as exc:
            raise ToolMissing(f"no Maven here (mvn on PATH builds {project.name} once)") from exc
        m2 = cache.parent / "m2"
        classpath = out / "classpath.txt"
        run([mvn, "-B", "-q", "-f", project / "pom.xml", f"-Dmaven.repo.local={m2}",
             f"-Dbuild.dir={out}", "compile", "dependency:build-classpath",
             f"-Dmdep.outputFile={classpath}"])  # fmt: skip

    built = _build_once(cache / project.name, fingerprint(*inputs), build)
    return f"{built / 'classes'}:{(built / 'classpath.txt').read_text().strip()}"


def _build_once(folder: Path, key: str, build: Callable[[Path], None]) -> Path:
    """``folder/key``, built once; the builds of older inputs beside it are removed."""
    built = build_once(folder / key, build)
    for stale in folder.iterdir():
        if stale.name != key and not stale.name.startswith("."):  # another's build under way
            shutil.rmtree(stale, ignore_errors=True)
    return built


@dataclass(frozen=True)
class Program:
    """A client: the command line before its own flags."""

    language: str
    command: tuple[str, ...]
    flag_prefix: str  # "--" for Node's parseArgs, "-" for Go's flag package

    def argv(self, flags: Mapping[str, str | None]) -> list[str]:
        """The command line with ``flags`` (a None value: a flag without a value)."""
        args = [*self.command]
        for name, value in flags.items():
            args += [self.flag_prefix + name] + ([] if value is None else [value])
        return args

    def run(self, flags: Mapping[str, str | None], *, stdin: str = "", timeout: float = 60) -> str:
        """Its standard output; :class:`CommandFailed` on a non-zero exit."""
        return run(self.argv(flags), stdin=stdin, timeout=timeout)

    def consume(
        self,
        *,
        kafka: str,
        registry: str,
        topic: str,
        count: int,
        schema: Path,
        group: str = "interop",
        timeout: float = 60,
    ) -> Iterator[dict[str, Any]]:
        """``count`` records of ``topic`` from its start, resolved to the reader schema
        ``schema``, in a consumer group of their own (``group-<language>-<random>``): one
        dict per record as the consumer prints it, streamed (nothing held but the line
        read). :class:`CommandFailed` if it exits with an error or takes over ``timeout``."""
        flags: dict[str, str | None] = {
            "brokers": kafka,
            "registry": registry,
            "topic": topic,
            "group": f"{group}-{self.language}-{uuid.uuid4().hex[:8]}",
            "from-beginning": None,
            "count": str(count),
            "schema": str(schema),
        }
        args = self.argv(flags)
        expired: list[bool] = []
        with (
            tempfile.TemporaryFile() as stderr,
            subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True
            ) as process,
        ):

            def expire() -> None:
                expired.append(True)
                process.kill()

            timer = threading.Timer(timeout, expire)
            timer.start()
            try:
                yield from map(json.loads, process.stdout or ())
                process.wait()
            finally:
                timer.cancel()
                if process.poll() is None:  # the caller stopped reading, or a line was bad
                    process.kill()
            stderr.seek(0)
            printed = stderr.read()[-4000:].decode(errors="replace")
        if expired:
            raise CommandFailed(args, f"no exit after {timeout:g} s", printed)
        if process.returncode != 0:
            raise CommandFailed(args, f"exit {process.returncode}", printed)


def node_program(script: str, project: Path | None = None) -> Program:
    """``node <script>`` beside ``project``'s packages (default: ``tests/interop/node``)."""
    folder = node_project(project or sources("node"))
    return Program("node", (node(), str(folder / script)), "--")


def go_consumer(project: Path | None = None) -> Program:
    """The Go consumer (``tests/interop/go``'s ``./consume``)."""
    return Program("go", (str(go_build(project or sources("go"))),), "-")
