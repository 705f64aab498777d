"""What ``iotpipe demo`` shows while it runs: on a terminal a live view that fits 80x24
(short headers, as many device rows as the height leaves room for); in a pipe or a CI log
one plain line every ``LOG_SECONDS`` instead, since a live view there prints nothing until
the end and then a table in fragments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["LOG_SECONDS", "Meter", "Snapshot", "live_view", "log_line"]

LOG_SECONDS = 5.0
# Lines of the view besides the device rows: the figures (header, rule, row), a blank
# line, the device table's title, top border, header, rule, bottom border; and one for
# the cursor (a view as tall as the terminal would lose its first line).
_FIXED_LINES = 3 + 1 + 5 + 1


@dataclass(frozen=True)
class Snapshot:
    """The fleet's and the sink's figures at one moment; ``stored`` and ``lag`` are -1
    while the sink's metrics do not answer."""

    elapsed: float
    sent: int
    acknowledged: int
    rejected: int
    stored: int
    lag: int
    acknowledged_per_s: float
    stored_per_s: float


class Meter:
    """Turns running totals into snapshots, with rates since the previous one."""

    def __init__(self, began: float) -> None:
        self._began = began
        self._acknowledged = (began, 0)
        self._stored = (began, 0)  # the last known figure: the sink may not answer

    def snapshot(
        self, now: float, *, sent: int, acknowledged: int, rejected: int, stored: int, lag: int
    ) -> Snapshot:
        acknowledged_per_s = _rate(self._acknowledged, now, acknowledged)
        self._acknowledged = (now, acknowledged)
        stored_per_s = 0.0
        if stored >= 0:
            stored_per_s = _rate(self._stored, now, stored)
            self._stored = (now, stored)
        return Snapshot(
            elapsed=now - self._began,
            sent=sent,
            acknowledged=acknowledged,
            rejected=rejected,
            stored=stored,
            lag=lag,
            acknowledged_per_s=acknowledged_per_s,
            stored_per_s=stored_per_s,
        )


def _rate(previous: tuple[float, int], now: float, count: int) -> float:
    then, before = previous
    return max(count - before, 0) / max(now - then, 1e-6)


def _known(value: int) -> str:
    return str(value) if value >= 0 else "?"


def live_view(
    snapshot: Snapshot, last_values: Mapping[str, tuple[str, float]], *, height: int
) -> Group:
    """The figures, then the last value of each device (the rows that fit ``height``)."""
    figures = Table(
        box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False
    )
    for header, style in [
        ("elapsed", "bold"),
        ("sent", ""),
        ("acked", "green"),
        ("stored", "cyan"),
        ("rejected", ""),
        ("lag", "yellow"),
        ("acked/s", "green"),
        ("stored/s", "cyan"),
    ]:
        figures.add_column(header, justify="right", style=style, no_wrap=True)
    figures.add_row(
        f"{snapshot.elapsed:.0f}s",
        str(snapshot.sent),
        str(snapshot.acknowledged),
        _known(snapshot.stored),
        str(snapshot.rejected),
        _known(snapshot.lag),
        f"{snapshot.acknowledged_per_s:.1f}",
        f"{snapshot.stored_per_s:.1f}",
    )
    devices = Table("device", "sensor", title="last value per device", title_justify="left")
    devices.add_column("value", justify="right")
    rows = sorted(last_values.items())
    room = max(height - _FIXED_LINES, 1)
    if len(rows) > room:  # the last row says how many did not fit
        shown, hidden = rows[: room - 1], len(rows) - (room - 1)
    else:
        shown, hidden = rows, 0
    for device, (sensor, value) in shown:
        devices.add_row(device, sensor, f"{value:.2f}")
    if hidden:
        devices.add_row(Text(f"+{hidden} more", style="dim"), "", "")
    return Group(figures, "", devices)


def log_line(snapshot: Snapshot) -> str:
    """One line for a log: the totals, the rates since the previous line, the lag."""
    return (
        f"demo {snapshot.elapsed:5.0f}s: sent {snapshot.sent}, "
        f"acknowledged {snapshot.acknowledged} ({snapshot.acknowledged_per_s:.1f}/s), "
        f"stored {_known(snapshot.stored)} ({snapshot.stored_per_s:.1f}/s), "
        f"rejected {snapshot.rejected}, lag {_known(snapshot.lag)}"
    )
