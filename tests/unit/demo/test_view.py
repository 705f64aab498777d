"""The demo's live view fits an 80x24 terminal whole; off a terminal it writes one plain
line per interval."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from iotpipe.demo.view import Meter, Snapshot, live_view, log_line

HEADERS = ["elapsed", "sent", "acked", "stored", "rejected", "lag", "acked/s", "stored/s"]
# Figures as large as a long demo reaches (hours at several thousand readings/s).
BIG = Snapshot(
    elapsed=12345.4,
    sent=12_345_678,
    acknowledged=12_345_000,
    rejected=123_456,
    stored=12_000_000,
    lag=123_456,
    acknowledged_per_s=12345.6,
    stored_per_s=12000.1,
)


def fleet(devices: int) -> dict[str, tuple[str, float]]:
    return {f"sensebox-demo-{i:02d}": ("pm25", 1234.5 + i) for i in range(devices)}


def printed(renderable: object, *, width: int = 80, height: int = 24, log: bool = False) -> str:
    """What ``console.print`` writes (as the demo prints a log line, with ``log``)."""
    out = io.StringIO()
    console = Console(file=out, width=width, height=height, color_system=None)
    if log:
        console.print(renderable, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(renderable)
    return out.getvalue()


def render(devices: int, snapshot: Snapshot = BIG, height: int = 24) -> list[str]:
    return printed(live_view(snapshot, fleet(devices), height=height), height=height).splitlines()


@pytest.mark.parametrize("devices", [1, 12, 40])
def test_the_view_fits_80x24_with_every_header_whole(devices: int) -> None:
    lines = render(devices)
    assert not [line for line in lines if "…" in line]
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 24
    assert lines[0].split() == HEADERS
    assert lines[2].split() == ["12345s", "12345678", "12345000", "12000000", "123456",
                                "123456", "12345.6", "12000.1"]  # fmt: skip


def test_devices_that_do_not_fit_are_counted_not_cut() -> None:
    lines = render(40)
    shown = [line for line in lines if "sensebox-demo-" in line]
    more = [line for line in lines if "more" in line]
    assert len(more) == 1
    assert f"+{40 - len(shown)} more" in more[0]
    assert len(render(12, height=40)) == len(render(12, height=24))  # all 12 fit 24 rows


def test_a_taller_terminal_shows_more_devices() -> None:
    assert sum("sensebox-demo-" in line for line in render(40, height=50)) == 40


def test_unknown_sink_figures_show_as_a_question_mark() -> None:
    unknown = Snapshot(3, 10, 9, 0, -1, -1, 3.0, 0.0)
    assert render(1, unknown)[2].split()[3:6] == ["?", "0", "?"]
    assert "stored ? (0.0/s)" in log_line(unknown)
    assert "lag ?" in log_line(unknown)


def test_the_log_line_is_one_line_with_every_figure() -> None:
    line = log_line(BIG)
    assert "\n" not in line
    assert line == (
        "demo 12345s: sent 12345678, acknowledged 12345000 (12345.6/s), "
        "stored 12000000 (12000.1/s), rejected 123456, lag 123456"
    )
    # In a pipe it stays one line, however narrow rich thinks the output is.
    assert printed(line, width=40, log=True) == line + "\n"


def test_the_meter_gives_rates_since_the_previous_snapshot() -> None:
    meter = Meter(100.0)
    first = meter.snapshot(105.0, sent=60, acknowledged=50, rejected=1, stored=40, lag=10)
    assert (first.elapsed, first.acknowledged_per_s, first.stored_per_s) == (5.0, 10.0, 8.0)
    blind = meter.snapshot(110.0, sent=90, acknowledged=80, rejected=1, stored=-1, lag=-1)
    assert (blind.acknowledged_per_s, blind.stored_per_s) == (6.0, 0.0)
    back = meter.snapshot(115.0, sent=120, acknowledged=110, rejected=1, stored=90, lag=0)
    assert back.stored_per_s == 5.0  # since the last known figure (40), over 5 s
