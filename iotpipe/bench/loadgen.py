"""The benchmark's HTTP load generator: built on first use, cached, run for one phase.

``compose/local/loadgen`` is a small Go program (standard library only; Go is already
what the stack builds FerretDB with) that POSTs one JSON body from N connections for a
fixed time, closed loop as wrk does, and prints requests, non-2xx answers, errors and
latency percentiles as one JSON line. Like wrk it runs one thread and one epoll loop, so
it costs the machine about what wrk did (see its source). It is built once per content
of its sources into ``~/.cache/iotpipe/loadgen/<fingerprint>/`` (Go's caches the
stack's), saying so while it builds: no apt, no root, no step by hand.

``IOTPIPE_BENCH_LOADGEN=wrk`` runs wrk from PATH instead (its Lua script prints the same
line), e.g. to compare with figures taken with it. The CPU the generator used is read
from its rusage, so a report can show whether the load generator was the bottleneck.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from iotpipe.bench import wrk
from iotpipe.errors import ConfigError
from iotpipe.stack.assets import assets_dir, fingerprint
from iotpipe.stack.install import build_once, go_build_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.progress import run_logged
from iotpipe.stack.settings import StackSettings

__all__ = [
    "ENV",
    "GENERATORS",
    "LoadResult",
    "build",
    "chosen",
    "parse_summary",
    "prepare",
    "run_load",
]

ENV = "IOTPIPE_BENCH_LOADGEN"
GENERATORS = ("loadgen", "wrk")
NAME = "loadgen"
_SOURCES = ("go.mod", "main.go")  # the standard library only: no go.sum
TIMEOUT_S = 10  # per request, as wrk's --timeout


@dataclass(frozen=True)
class LoadResult:
    requests: int  # answered (2xx or not); errors apart
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    non2xx: int
    errors: int  # no answer: connect, read, write, timeout
    cpu_share: float  # the generator's CPU seconds / (wall seconds x cores): 1.0 = all busy


def source_dir() -> Path:
    """``compose/local/loadgen`` (or its copy in an installed package)."""
    return assets_dir() / NAME


def build(
    cache: Path | None = None, *, src: Path | None = None, console: Console | None = None
) -> Path:
    """The generator's binary, built from ``src`` on first use (25 s with empty Go caches)."""
    cache = cache or StackSettings().cache_dir
    src = src or source_dir()

    def go_build(out: Path) -> None:
        env = go_build_env(cache)  # Go's caches shared with the stack's FerretDB build
        run_logged(
            [find_go(), "build", "-trimpath", "-o", out / NAME, "."],
            label="Building the benchmark's load generator (Go, ~30 s)",
            log_path=cache / "logs" / "loadgen-build.log",
            console=console or Console(stderr=True),
            cwd=src,
            env=env,
        )

    folder = cache / NAME / fingerprint(*(src / name for name in _SOURCES))
    return build_once(folder, go_build) / NAME


def chosen() -> str:
    """The generator ``IOTPIPE_BENCH_LOADGEN`` names (``loadgen`` when unset)."""
    name = os.environ.get(ENV, "") or GENERATORS[0]
    if name not in GENERATORS:
        raise ConfigError(f"{ENV} must be one of {', '.join(GENERATORS)}, not {name!r}")
    return name


def prepare(console: Console | None = None) -> Path:
    """The chosen generator's executable, built now if it is not yet: a run calls this
    before it starts anything, so a build (or a missing wrk) shows up first."""
    return wrk.find_wrk() if chosen() == "wrk" else build(console=console)


def run_load(
    url: str,
    body: bytes,
    *,
    key: str = "",
    connections: int = 32,
    seconds: float = 10.0,
    delay_ms: float = 0.0,
) -> LoadResult:
    """POST ``body`` to ``url`` from ``connections`` connections for ``seconds``; each
    connection pauses ``delay_ms`` after each answer (0: as fast as answered)."""
    executable = prepare()
    with tempfile.TemporaryDirectory(prefix="iotpipe-load-") as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        if chosen() == "wrk":
            argv, extra = wrk.command(
                executable, url, body_file, key=key, connections=connections,
                seconds=seconds, delay_ms=delay_ms, timeout_s=TIMEOUT_S,
            )  # fmt: skip
        else:
            argv = [str(executable), "-url", url, "-body", str(body_file),
                    "-c", str(connections), "-d", f"{seconds:g}", "-delay-ms", f"{delay_ms:g}",
                    "-timeout", f"{TIMEOUT_S}s"]  # fmt: skip
            extra = {"LOADGEN_AUTH": key}  # from the environment: a key stays out of ps
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            argv, env={**os.environ, **extra}, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{chosen()} failed: {done.stderr.strip() or done.stdout.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse_summary(done.stdout, cpu_share=cpu / (wall * (os.cpu_count() or 1)))


def parse_summary(stdout: str, *, cpu_share: float) -> LoadResult:
    """The JSON line the generator (or wrk's script) prints last."""
    summary = json.loads(stdout.strip().splitlines()[-1])
    return LoadResult(
        requests=summary["requests"],
        requests_per_s=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        mean_ms=summary["mean_us"] / 1000,
        non2xx=summary["non2xx"],
        errors=summary["errors"],
        cpu_share=cpu_share,
    )
