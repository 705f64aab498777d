"""The accounting beside lost/duplicated: error rate, 503 stretches, recovery, the lag's
return, the stream's shape, the peak, and the page's table."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from iotpipe.chaos.driver import stream_shape
from iotpipe.chaos.ledger import Answer, Ledger, longest_503_stretch
from iotpipe.chaos.peak import Peak
from iotpipe.chaos.report import COLUMNS, markdown
from iotpipe.chaos.verdict import FaultTimes, judge
from iotpipe.chaos.watch import lag_recovered


def _answers(*pairs: tuple[float, int]) -> list[Answer]:
    return [Answer(at, status, 0.01, deliberate=False) for at, status in pairs]


def test_the_longest_503_stretch_runs_from_the_first_503_to_the_next_2xx() -> None:
    timeline = _answers((0, 202), (1, 503), (2, 503), (3.5, 0), (4, 202), (5, 503), (5.5, 202))
    assert longest_503_stretch(timeline) == (3.0, False)


def test_a_503_stretch_still_open_at_the_end_is_counted_and_flagged() -> None:
    assert longest_503_stretch(_answers((0, 202), (1, 503), (7, 503))) == (6.0, True)


def test_no_503_no_stretch() -> None:
    assert longest_503_stretch(_answers((0, 202), (1, 429), (2, 202))) == (0.0, False)


def test_the_error_rate_leaves_out_deliberate_rejections_and_counts_no_answer() -> None:
    ledger = Ledger()
    for _ in range(6):
        ledger.answer(202, retry_after=False)
    ledger.answer(422, retry_after=False, deliberate=True)  # all its readings were bad
    ledger.answer(422, retry_after=False)  # a valid reading refused: an error
    ledger.answer(503, retry_after=True)
    ledger.answer(0, retry_after=False)  # no answer at all
    assert ledger.error_rate() == pytest.approx(3 / 10)


def test_acknowledgements_are_found_by_time() -> None:
    ledger = Ledger()
    before = time.monotonic()
    for i in range(3):
        ledger.sent(f"r{i}", bad=False)
        ledger.settle(f"r{i}", "acknowledged")
    after = time.monotonic()
    ledger.settle("r0", "acknowledged")  # again: not counted twice
    assert ledger.acknowledged_count == 3
    assert ledger.acknowledged_between(before, after) == 3
    assert ledger.acknowledged_between(after + 1, after + 2) == 0
    first = ledger.first_acknowledged_after(before)
    assert first is not None and before <= first <= after
    assert ledger.first_acknowledged_after(after + 1) is None


def test_a_reading_sent_without_an_answer_counts_as_failed() -> None:
    ledger = Ledger()
    ledger.sent("lost-in-flight", bad=False)
    assert ledger.ids("failed") == {"lost-in-flight"}
    assert ledger.sent_count == 1


def test_recovery_from_the_fault_over_to_the_first_acknowledgement() -> None:
    ledger = Ledger()
    ledger.sent("a", bad=False)
    over = time.monotonic()
    ledger.settle("a", "acknowledged")
    times = FaultTimes(struck=over - 5, over=over, offered_per_s=2000.0, peak={"x": 1})
    result = judge("x", ledger, Counter({"a": 1}), {}, 1.0, times=times, brokers=3)
    assert result.recover_s is not None and 0 <= result.recover_s < 60
    assert (result.brokers, result.offered_per_s, result.peak) == (3, 2000.0, {"x": 1})
    assert result.lag_recover_s is None  # no lag samples: never seen back


def test_the_lag_is_back_when_it_is_as_low_as_before_the_fault() -> None:
    samples: list[tuple[float, int | None]] = [
        (0, 300), (1, 800), (2, 400),  # before: at most 800
        (3, 50_000), (4, None), (5, 60_000), (6, 30_000), (7, 700), (8, 100),
    ]  # fmt: skip
    assert lag_recovered(samples, struck=2.5, over=5, floor=500) == 2
    assert lag_recovered(samples, struck=2.5, over=5, floor=40_000) == 1
    assert lag_recovered(samples[:7], struck=2.5, over=5, floor=500) is None


@pytest.mark.parametrize("rate", [50.0, 800.0, 3_000.0, 20_000.0])
def test_a_stream_is_mostly_batches_with_some_singles(rate: float) -> None:
    shape = stream_shape(rate, 8)
    assert (shape.batch_devices, shape.single_devices) == (6, 2)
    assert 0 < shape.single_rate <= min(rate * 0.05, 200)
    assert shape.batch_rate == pytest.approx(rate - shape.single_rate)
    per_batch = shape.batch_rate / shape.batch_devices * shape.interval
    assert per_batch <= 1000  # within MAX_BATCH at the planned pace
    assert 0.05 <= shape.interval <= 1.0


def test_a_stream_needs_a_rate_and_devices() -> None:
    with pytest.raises(ValueError, match="positive"):
        stream_shape(0, 8)
    with pytest.raises(ValueError, match="2 devices"):
        stream_shape(100, 1)


def test_the_peak_is_the_slower_end() -> None:
    peak = Peak(ingest_per_s=9000, sink_per_s=4500, burst_s=4, drain_s=4)
    assert peak.readings_per_s == 4500
    assert peak.as_dict()["readings_per_s"] == 4500


def test_the_page_table_has_a_row_per_scenario_and_every_column() -> None:
    ledger = Ledger()
    ledger.sent("a", bad=False)
    ledger.settle("a", "acknowledged")
    times = FaultTimes(struck=0, over=0, offered_per_s=1500.0, peak={"readings_per_s": 3000})
    results = [
        judge("one", ledger, Counter({"a": 1}), {}, 1.0, times=times),
        judge("two", ledger, Counter(), {}, 1.0),
    ]
    lines = markdown(results).splitlines()
    assert len(lines) == 4
    assert all(line.count("|") == len(COLUMNS) + 2 for line in lines)
    assert "1,500 (3,000)" in lines[2] and "pass" in lines[2]
    assert "FAIL" in lines[3]  # "a" was acknowledged and is not stored
