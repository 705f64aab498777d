from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from iotpipe.stack.process import is_alive, read_pidfile, spawn, terminate


def test_spawn_records_pid_and_terminate_stops_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "sleeper.pid"
    record = spawn(
        [sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "logs" / "sleeper.log",
        pidfile=pidfile,
    )
    log = tmp_path / "logs" / "sleeper.log"
    deadline = time.monotonic() + 10
    while "hello" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_pidfile(pidfile) == record
    assert is_alive(record)
    assert terminate(record, grace=10) is False  # SIGTERM was enough
    assert not is_alive(record)
    assert "hello" in log.read_text()


def test_terminate_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "stubborn.log"
    record = spawn(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=log,
        pidfile=tmp_path / "stubborn.pid",
    )
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert terminate(record, grace=0.5) is True
    assert not is_alive(record)


def test_a_reused_pid_is_not_taken_for_ours(tmp_path: Path) -> None:
    record = spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "x.log",
        pidfile=tmp_path / "x.pid",
    )
    try:
        assert record.start_time is not None
        impostor = replace(record, start_time=record.start_time + 1)
        assert not is_alive(impostor)
        assert terminate(impostor, grace=0.1) is False  # never signalled
        assert is_alive(record)
    finally:
        terminate(record, grace=5)


def test_unreadable_pidfile_means_not_started(tmp_path: Path) -> None:
    (tmp_path / "bad.pid").write_text("garbage")
    assert read_pidfile(tmp_path / "bad.pid") is None
    assert read_pidfile(tmp_path / "missing.pid") is None
