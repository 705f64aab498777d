"""The command line's consoles: whole lines off a terminal, no colour where NO_COLOR is set."""

from __future__ import annotations

import pytest

from iotpipe.terminal import PIPE_WIDTH, make_console

LONG = "cluster: 3 of 3 brokers up (1, 2, 3), active controller node 2, " * 2


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TERM"):
        monkeypatch.delenv(name, raising=False)


def test_off_a_terminal_a_line_stays_whole(capsys: pytest.CaptureFixture[str]) -> None:
    console = make_console()
    assert not console.is_terminal
    assert console.width == PIPE_WIDTH
    console.print(LONG.strip())
    assert capsys.readouterr().out == LONG.strip() + "\n"


def test_columns_still_decides_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console(stderr=True).width == 100


def test_no_color_is_honoured_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a terminal
    make_console().print("[red]stopped[/]")
    assert "\x1b[31m" in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    make_console().print("[red]stopped[/]")
    out = capsys.readouterr().out
    assert "stopped" in out
    assert "\x1b[31m" not in out
