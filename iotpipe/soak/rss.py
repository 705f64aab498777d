"""Resident memory of a process and its descendants, read from ``/proc``.

Descendants count because ingest may run uvicorn workers as child processes: a leak in a
worker is a leak of ingest. RSS (not VMS) is what the kernel would have to find in RAM.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["parse_vm_rss_kb", "tree_rss_mb"]

_PROC = Path("/proc")


def parse_vm_rss_kb(status: str) -> int:
    """``VmRSS`` in kB from the text of ``/proc/<pid>/status`` (0 for a zombie, which has
    none)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int, proc: Path) -> list[int]:
    found: list[int] = []
    for task in (proc / str(pid) / "task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(pid: int, proc: Path = _PROC) -> float | None:
    """MB resident of ``pid`` and all its descendants; None once ``pid`` is gone."""
    total_kb, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            total_kb += parse_vm_rss_kb((proc / str(current) / "status").read_text())
        except OSError:
            if current == pid:
                return None
            continue
        pending += _children(current, proc)
    return total_kb / 1024
