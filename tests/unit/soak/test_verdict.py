"""The verdict names each failed condition; only a run meeting all of them passes."""

from __future__ import annotations

from typing import Any

from iotpipe.soak.growth import Growth
from iotpipe.soak.verdict import judge

FLAT = Growth(start_mb=100.0, end_mb=101.0, slope_mb_per_min=0.2)
LEAK = Growth(start_mb=100.0, end_mb=130.0, slope_mb_per_min=3.0)
CLEAN: dict[str, Any] = {
    "load_errors": 0,
    "ingest_non_2xx": 0,
    "dead_letters": 0,
    "lag_to_zero_s": 4.2,
}


def test_flat_memory_no_errors_and_lag_back_to_zero_pass() -> None:
    verdict = judge({"ingest": FLAT, "sink": FLAT}, **CLEAN)
    assert verdict.passed
    assert verdict.failures == []


def test_a_growing_process_fails_and_is_named() -> None:
    verdict = judge({"ingest": FLAT, "sink": LEAK}, **CLEAN)
    assert not verdict.passed
    assert len(verdict.failures) == 1
    assert verdict.failures[0].startswith("sink RSS not flat")


def test_each_error_source_fails_on_its_own() -> None:
    for field in ("load_errors", "ingest_non_2xx", "dead_letters"):
        verdict = judge({"ingest": FLAT}, **{**CLEAN, field: 1})
        assert not verdict.passed, field
        assert len(verdict.failures) == 1, field


def test_lag_that_never_returns_to_zero_fails() -> None:
    verdict = judge({"ingest": FLAT}, **{**CLEAN, "lag_to_zero_s": None})
    assert verdict.failures == ["consumer lag did not return to zero within the drain timeout"]


def test_a_run_too_short_for_its_warm_up_fails() -> None:
    verdict = judge({}, **CLEAN)
    assert not verdict.passed
    assert "warm-up" in verdict.failures[0]
