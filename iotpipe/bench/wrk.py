"""wrk (Debian package ``wrk``) as the benchmark's load generator, when asked for with
``IOTPIPE_BENCH_LOADGEN=wrk`` (:mod:`iotpipe.bench.loadgen` runs it).

A Lua script sets method, body and headers, can pace each connection (``delay``), and
prints the summary as the same JSON line the default generator prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from iotpipe.errors import PrerequisiteMissing

__all__ = ["command", "find_wrk"]

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


def find_wrk() -> Path:
    path = shutil.which("wrk")
    if path is None:
        raise PrerequisiteMissing(
            "IOTPIPE_BENCH_LOADGEN=wrk needs wrk on PATH (apt-get install wrk); "
            "unset it to use the load generator the bench builds itself"
        )
    return Path(path)


def command(
    executable: Path,
    url: str,
    body_file: Path,
    *,
    key: str,
    connections: int,
    seconds: float,
    delay_ms: float,
    timeout_s: int,
) -> tuple[list[str], dict[str, str]]:
    """wrk's command line and the environment its script reads (the script is written
    beside ``body_file``). wrk counts whole seconds."""
    script = body_file.parent / "post.lua"
    script.write_text(_SCRIPT)
    argv = [str(executable), "-t", "1", "-c", str(connections), "-d", f"{seconds:.0f}s",
            "--timeout", f"{timeout_s}s", "-s", str(script), url]  # fmt: skip
    env = {"WRK_BODY_FILE": str(body_file), "WRK_AUTH": key, "WRK_DELAY_MS": str(int(delay_ms))}
    return argv, env
