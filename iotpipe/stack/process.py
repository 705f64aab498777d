"""Start, find and stop the stack's processes by pid, and only those.

A pid file records the pid together with the process start time read from ``/proc``,
so a pid the kernel later reuses for another program is never mistaken for ours and
never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["PidRecord", "is_alive", "read_pidfile", "spawn", "terminate"]


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_time: int | None
    command: list[str]


def _start_time(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[0]


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (tests spawn in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(record: PidRecord) -> bool:
    _reap(record.pid)
    if not Path("/proc").is_dir():  # no procfs: fall back to a signal-0 probe
        try:
            os.kill(record.pid, 0)
        except OSError:
            return False
        return True
    state = _state(record.pid)
    if state is None or state in {"Z", "X"}:
        return False
    return record.start_time is None or _start_time(record.pid) == record.start_time


def spawn(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    pidfile: Path,
) -> PidRecord:
    """Start ``command`` detached from this process (own session), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(part) for part in command]
    with log_path.open("ab") as log:
        log.write(f"\n--- started {time.strftime('%Y-%m-%dT%H:%M:%S%z')}: {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = PidRecord(pid=proc.pid, start_time=_start_time(proc.pid), command=argv)
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(pidfile)
    return record


def read_pidfile(pidfile: Path) -> PidRecord | None:
    try:
        data = json.loads(pidfile.read_text())
        return PidRecord(int(data["pid"]), data.get("start_time"), list(data.get("command", [])))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def terminate(record: PidRecord, *, grace: float) -> bool:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. True if it had to be killed."""
    if not is_alive(record):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(record):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    while is_alive(record):
        time.sleep(0.05)
    return True
