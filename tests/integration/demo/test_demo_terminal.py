"""``iotpipe demo`` as a person sees it, on the real stack (a topic, group and database of
its own): in tmux on an 80x24 terminal the live view is whole (no header cut short, no
line past the edge); piped (``| cat``, a CI log) it writes one plain line per interval.
Both runs end with every acknowledged reading stored."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.scratch import Scratch

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

HEADERS = ["elapsed", "sent", "acked", "stored", "rejected", "lag", "acked/s", "stored/s"]
LOG_LINE = re.compile(
    r"^demo +(\d+)s: sent (\d+), acknowledged (\d+) \([\d.]+/s\), "
    r"stored (\d+|\?) \([\d.]+/s\), rejected (\d+), lag (\d+|\?)$"
)
STORED_ONCE = "every acknowledged reading is stored exactly once"


@pytest.fixture
def demo_env(scratch: Scratch) -> dict[str, str]:
    """The environment for a demo of its own: topics, sink group and database (removed
    after the test with the subjects the demo registers and the jobs topic ingest makes)."""
    topic = scratch.topic("it-demo", partitions=3, dlq=True)
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}},
        "IOTPIPE_INGEST_TOPIC": topic,
        "IOTPIPE_INGEST_JOBS_TOPIC": f"{topic}-jobs",
        "IOTPIPE_INGEST_DEVICES_TOPIC": f"{topic}-devices",
        "IOTPIPE_INGEST_DEVICES_WAIT_SECONDS": "1",
        "IOTPIPE_SINK_TOPIC": topic,
        "IOTPIPE_SINK_DLQ_TOPIC": f"{topic}.dlq",
        "IOTPIPE_SINK_GROUP_ID": f"{topic}-sink",
        "IOTPIPE_SINK_DATABASE": scratch.database("it_demo"),
    }
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def test_the_live_view_fits_an_80x24_terminal(demo_env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("no tmux: apt-get install tmux (.ci/run installs it)")
    socket = f"iotpipe-demo-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket]
    done = tmp_path / "exit-code"
    command = f"{sys.executable} -m iotpipe demo --duration 20; echo $? > {done}; sleep 120"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "demo", command],
        env={**demo_env, "TERM": "xterm-256color"},
        check=True,
    )
    try:
        screens = []
        deadline = time.monotonic() + 120
        while not done.exists():
            assert time.monotonic() < deadline, "the demo did not end in time"
            time.sleep(2)
            screens.append(_screen(tmux))
        final = _screen(tmux)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    (tmp_path / "screens.txt").write_text("\n\n".join([*screens, final]))
    assert done.read_text().strip() == "0", final
    live = [s for s in screens if any(_is_header(line) for line in s.splitlines())]
    assert len(live) >= 5, screens[-1]  # ~2 s apart over 20 s
    for screen in [*live, final]:
        assert "…" not in screen, screen
        assert "..." not in screen, screen  # rich's mark for a view taller than the screen
    last_live = live[-1].splitlines()
    figures = last_live[[_is_header(line) for line in last_live].index(True) + 2].split()
    assert figures[0].endswith("s")
    assert int(figures[2]) > 0  # acknowledged
    assert "sensebox-demo-00" in live[-1]
    assert STORED_ONCE in final


def _screen(tmux: list[str]) -> str:
    return subprocess.run(
        [*tmux, "capture-pane", "-p", "-t", "demo"], capture_output=True, text=True, check=True
    ).stdout


def _is_header(line: str) -> bool:
    return line.split() == HEADERS


def test_piped_output_is_one_plain_line_per_interval(demo_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "iotpipe", "demo", "--duration", "15"],
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout + result.stderr  # no colour, no cursor moves
    lines = result.stdout.splitlines()
    progress = [LOG_LINE.match(line) for line in lines if re.match(r"demo +\d", line)]
    figures = [match.groups() for match in progress if match is not None]
    assert len(figures) == len(progress) >= 3, lines
    elapsed = [int(f[0]) for f in figures]
    assert all(b - a >= 4 for a, b in itertools.pairwise(elapsed)), elapsed
    assert int(figures[-1][2]) > 0  # acknowledged
    assert not [line for line in lines if "elapsed" in line]  # no live view printed at the end
    assert any(line.startswith("ingest on http://127.0.0.1:") for line in lines), lines
    assert STORED_ONCE in result.stdout
