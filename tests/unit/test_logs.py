import logging

import pytest

from iotpipe.logs import RepeatsDropped


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("t", logging.WARNING, __file__, 1, message, None, None)


def test_a_repeat_within_the_interval_is_dropped_and_let_through_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("iotpipe.logs.time.monotonic", lambda: now[0])
    repeats = RepeatsDropped(30.0)
    assert repeats.filter(_record("broker down"))
    assert not repeats.filter(_record("broker down"))
    assert repeats.filter(_record("another message"))
    now[0] += 29.9
    assert not repeats.filter(_record("broker down"))
    now[0] += 0.2
    assert repeats.filter(_record("broker down"))
