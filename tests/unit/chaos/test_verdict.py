"""The chaos verdict counts what the issue defines: lost, duplicates, rejected-reported."""

from __future__ import annotations

from collections import Counter

import pytest
from rich.console import Console

from iotpipe.chaos.driver import _status_of
from iotpipe.chaos.ledger import Ledger
from iotpipe.chaos.report import table
from iotpipe.chaos.stack import private_stack
from iotpipe.chaos.verdict import ScenarioResult, judge
from iotpipe.errors import ConfigError
from iotpipe.stack.settings import default_state_dir


def _ledger() -> Ledger:
    ledger = Ledger()
    for i in range(4):
        ledger.sent(f"ok-{i}", bad=False)
        ledger.settle(f"ok-{i}", "acknowledged")
    ledger.sent("bad", bad=True)
    ledger.settle("bad", "rejected", "latitude")
    ledger.sent("flaky", bad=False)
    ledger.settle("flaky", "failed")
    return ledger


def test_a_clean_run_passes() -> None:
    stored = Counter({f"ok-{i}": 1 for i in range(4)})
    result = judge("x", _ledger(), stored, {"custom": True}, 1.0)
    assert (result.lost, result.duplicates, result.failed_unresolved) == (0, 0, 1)
    assert (result.rejected_reported, result.rejected_expected) == (1, 1)
    assert result.passed


def test_a_failed_reading_may_be_stored() -> None:
    stored = Counter({**{f"ok-{i}": 1 for i in range(4)}, "flaky": 1})
    assert judge("x", _ledger(), stored, {}, 1.0).passed


def test_missing_doubled_and_unexpected_documents_fail() -> None:
    stored = Counter({"ok-0": 2, "ok-1": 1, "ok-2": 1, "bad": 1, "stranger": 1})
    result = judge("x", _ledger(), stored, {}, 1.0)
    assert result.lost == 1  # ok-3
    assert result.duplicates == 1 + 2  # ok-0 twice; bad and stranger never acknowledged
    assert not result.passed
    assert "FAIL" in _render(result)


def test_a_rejection_never_takes_back_an_acknowledgement() -> None:
    ledger = _ledger()
    ledger.settle("ok-0", "failed")
    assert "ok-0" in ledger.ids("acknowledged")


def test_an_invalid_reading_not_answered_rejected_fails() -> None:
    ledger = _ledger()
    ledger.settle("bad", "failed")
    result = judge("x", ledger, Counter({f"ok-{i}": 1 for i in range(4)}), {}, 1.0)
    assert (result.rejected_reported, result.rejected_expected) == (0, 1)
    assert not result.passed


def test_503_without_retry_after_and_500_fail_the_checks() -> None:
    ledger = _ledger()
    ledger.answer(503, retry_after=False)
    ledger.answer(500, retry_after=False)
    result = judge("x", ledger, Counter({f"ok-{i}": 1 for i in range(4)}), {}, 1.0)
    assert not result.checks["every 429/503 had Retry-After"]
    assert not result.checks["no 500"]
    assert result.answers == {"500": 1, "503": 1}
    assert not result.passed


def test_a_failed_scenario_check_fails_the_verdict() -> None:
    stored = Counter({f"ok-{i}": 1 for i in range(4)})
    assert not judge("x", _ledger(), stored, {"recovered": False}, 1.0).passed


@pytest.mark.parametrize(
    ("code", "status"),
    [(202, "accepted"), (422, "rejected"), (403, "rejected"), (429, "failed"), (503, "failed")],
)
def test_http_status_to_outcome(code: int, status: str) -> None:
    assert _status_of(code) == status


def test_the_private_stack_never_takes_the_shared_one() -> None:
    with pytest.raises(ConfigError):
        private_stack(default_state_dir())


def _render(result: ScenarioResult) -> str:
    console = Console(width=200, record=True)
    console.print(table([result]))
    return console.export_text()
