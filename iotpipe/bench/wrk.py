"""wrk, the compiled HTTP load generator (Debian package ``wrk``), driven from Python.

A Lua script sets method, body and headers, can pace each connection (``delay``) for a
target rate, and prints the summary as JSON at the end. The CPU wrk used is measured
from its rusage, so the report can show whether the load generator was the bottleneck.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import PrerequisiteMissing

__all__ = ["WrkResult", "find_wrk", "parse_summary", "run_wrk"]

_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open(os.getenv("WRK_BODY_FILE"), "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Bearer " .. auth end
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %f}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    non2xx: int
    errors: int
    cpu_share: float  # wrk's CPU seconds / (wall seconds x cores): 1.0 = all cores busy


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise PrerequisiteMissing(
            "the benchmark needs wrk (a compiled HTTP load generator): apt-get install wrk"
        )
    return path


def run_wrk(
    url: str,
    body: bytes,
    *,
    key: str = "",
    connections: int = 32,
    threads: int = 1,
    seconds: float = 10.0,
    delay_ms: float = 0.0,
) -> WrkResult:
    """POST ``body`` to ``url`` from ``connections`` connections for ``seconds``."""
    wrk = find_wrk()
    with tempfile.TemporaryDirectory(prefix="iotpipe-wrk-") as tmp:
        script, body_file = Path(tmp) / "post.lua", Path(tmp) / "body.json"
        script.write_text(_SCRIPT)
        body_file.write_bytes(body)
        env = {
            **os.environ,
            "WRK_BODY_FILE": str(body_file),
            "WRK_AUTH": key,
            "WRK_DELAY_MS": str(int(delay_ms)),
        }
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s",
             "--timeout", "10s", "-s", str(script), url],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse_summary(done.stdout, cpu_share=cpu / (wall * (os.cpu_count() or 1)))


def parse_summary(stdout: str, *, cpu_share: float) -> WrkResult:
    """The JSON line the script's ``done`` prints (the last line of wrk's output)."""
    summary = json.loads(stdout.strip().splitlines()[-1])
    return WrkResult(
        requests_per_s=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        mean_ms=summary["mean_us"] / 1000,
        non2xx=summary["non2xx"],
        errors=summary["errors"],
        cpu_share=cpu_share,
    )
