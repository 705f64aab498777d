"""CPU used by groups of processes over a stretch of time, read from Linux's /proc.

A group is a few root pids (a Kafka node, the sink replicas, ingest's supervisor) and,
unless told otherwise, every process below them (ingest's workers). Each group's share
is CPU seconds over wall seconds, in cores: 1.0 is one core busy the whole time. The
machine's own busy time (/proc/stat) is read over the same stretch, so what no group
used (other work on a shared machine) shows as ``other``. A process that exits within
the stretch takes its CPU with it; the groups measured here live through it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CpuMeter",
    "Group",
    "ProcessTimes",
    "cpu_shares",
    "machine_busy",
    "parse_proc_stat",
    "parse_stat_line",
    "snapshot",
    "tree",
]

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessTimes:
    ppid: int
    ticks: int  # utime + stime


@dataclass(frozen=True)
class Group:
    """Processes counted together; ``roots`` is asked at each reading (pids may change)."""

    name: str
    roots: Callable[[], Iterable[int]]
    descendants: bool = True


def parse_stat_line(text: str) -> ProcessTimes:
    """``/proc/<pid>/stat`` -> parent pid and user + system ticks. The command name (field
    2) is in parentheses and may hold spaces or parentheses: fields are counted after the
    last ``)``."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return ProcessTimes(ppid=int(rest[1]), ticks=int(rest[11]) + int(rest[12]))


def snapshot(proc: Path = PROC) -> dict[int, ProcessTimes]:
    """Every process now: pid -> parent and CPU ticks (processes gone meanwhile skipped)."""
    found: dict[int, ProcessTimes] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            found[int(entry.name)] = parse_stat_line((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
    return found


def tree(roots: Iterable[int], processes: Mapping[int, ProcessTimes]) -> set[int]:
    """The roots that exist and every process below them."""
    children: dict[int, list[int]] = {}
    for pid, times in processes.items():
        children.setdefault(times.ppid, []).append(pid)
    found: set[int] = set()
    pending = [pid for pid in roots if pid in processes]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, ()))
    return found


def parse_proc_stat(text: str) -> tuple[int, int, int]:
    """``/proc/stat``'s first line -> (busy, idle, steal) ticks summed over all cores.
    Busy is user, nice, system, irq and softirq; idle holds iowait; steal is time the
    hypervisor gave to others (neither ours nor idle)."""
    fields = [int(v) for v in text.splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return user + nice + system + irq + softirq, idle + iowait, steal


def machine_busy(proc: Path = PROC) -> tuple[int, int, int]:
    return parse_proc_stat((proc / "stat").read_text())


@dataclass
class CpuMeter:
    """Start, then stop: each group's cores over the stretch, the machine's, and the rest."""

    groups: list[Group]
    _began: float = 0.0
    _before: dict[int, ProcessTimes] = field(default_factory=dict)
    _machine: tuple[int, int, int] = (0, 0, 0)

    def start(self) -> None:
        self._before = snapshot()
        self._machine = machine_busy()
        self._began = time.perf_counter()

    def stop(self, extra: Mapping[str, float] | None = None) -> dict[str, float]:
        """Cores per group (and ``extra``: cores measured elsewhere, e.g. wrk's from its
        rusage), ``machine`` (busy cores), ``steal`` and ``other`` (the machine's busy time
        no group accounts for: other work on the machine), rounded to 0.01."""
        wall = time.perf_counter() - self._began
        after, machine = snapshot(), machine_busy()
        return cpu_shares(
            self.groups, self._before, after, self._machine, machine, wall, extra=extra
        )


def cpu_shares(  # noqa: PLR0917 - two readings of each kind and the stretch
    groups: list[Group],
    before: Mapping[int, ProcessTimes],
    after: Mapping[int, ProcessTimes],
    machine_before: tuple[int, int, int],
    machine_after: tuple[int, int, int],
    wall: float,
    *,
    extra: Mapping[str, float] | None = None,
    ticks_per_s: int = TICKS,
) -> dict[str, float]:
    """The pure part of :meth:`CpuMeter.stop`: each pid's ticks between the readings (all
    of them for a pid born in between), summed per group, as cores."""
    seconds = max(wall, 1e-9) * ticks_per_s
    shares: dict[str, float] = {}
    for group in groups:
        roots = list(group.roots())
        pids = tree(roots, after) if group.descendants else {p for p in roots if p in after}
        ticks = sum(
            after[p].ticks - (before[p].ticks if p in before else 0) for p in pids if p in after
        )
        shares[group.name] = round(max(ticks, 0) / seconds, 2)
    for name, cores in (extra or {}).items():
        shares[name] = round(cores, 2)
    busy = machine_after[0] - machine_before[0]
    steal = machine_after[2] - machine_before[2]
    shares["machine"] = round(busy / seconds, 2)
    shares["steal"] = round(steal / seconds, 2)
    ours = sum(v for k, v in shares.items() if k not in {"machine", "steal"})
    shares["other"] = round(max(shares["machine"] - ours, 0.0), 2)
    return shares
