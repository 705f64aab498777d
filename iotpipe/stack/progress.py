"""Progress for long steps: a live status line on a terminal, periodic lines elsewhere.

Builds and downloads stream their output into a log file; the person watching sees the
latest line (a spinner on a terminal, a heartbeat every few seconds in CI logs).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from iotpipe.errors import BuildFailed

__all__ = ["run_logged"]

HEARTBEAT_SECONDS = 15.0
BUILD_TIMEOUT_SECONDS = 20 * 60.0


def run_logged(
    cmd: Sequence[str | Path],
    *,
    label: str,
    log_path: Path,
    console: Console,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = BUILD_TIMEOUT_SECONDS,
) -> None:
    """Run ``cmd``, showing its progress and keeping its whole output in ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    last_beat = started
    tail: deque[str] = deque(maxlen=15)
    console.print(f"[bold]{label}[/] (once; cached afterwards) - log: {log_path}")
    with (
        log_path.open("w") as log,
        console.status(f"{label}...") as status,
        subprocess.Popen(
            [str(part) for part in cmd],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        ) as proc,
    ):
        if proc.stdout is None:  # pragma: no cover - PIPE always gives a stream
            raise BuildFailed(f"{label}: no output stream")
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.daemon = True
        watchdog.start()
        for raw in proc.stdout:
            log.write(raw)
            line = raw.strip()
            if not line:
                continue
            tail.append(line)
            elapsed = time.monotonic() - started
            status.update(f"{label} [{elapsed:.0f}s]: {line[:100]}")
            if not console.is_terminal and time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                console.print(f"  {label} [{elapsed:.0f}s]: {line[:120]}")
        code = proc.wait()
        watchdog.cancel()
    if time.monotonic() - started >= timeout:
        raise BuildFailed(f"{label} took over {timeout:.0f}s and was stopped; log: {log_path}")
    if code != 0:
        shown = "\n".join(f"  | {line}" for line in tail)
        raise BuildFailed(f"{label} failed (exit {code}); full log: {log_path}\n{shown}")
    console.print(f"  {label}: done in {time.monotonic() - started:.0f}s")
