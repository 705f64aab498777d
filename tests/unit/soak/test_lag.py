"""Consumer lag from committed offsets and watermarks, over a fake offsets source."""

from __future__ import annotations

from dataclasses import dataclass

from iotpipe.soak.lag import group_lag, lag
from iotpipe.soak.probe import until_zero


@dataclass
class FakeOffsets:
    commits: dict[int, int]
    ends: dict[int, tuple[int, int]]

    def committed(self) -> dict[int, int]:
        return self.commits

    def watermarks(self) -> dict[int, tuple[int, int]]:
        return self.ends


def test_lag_is_high_watermark_minus_committed_summed() -> None:
    assert group_lag({0: 10, 1: 5}, {0: (0, 12), 1: (0, 5)}) == 2


def test_a_partition_without_a_commit_counts_from_its_low_watermark() -> None:
    # -1001 is librdkafka's OFFSET_INVALID: nothing committed yet; the sink starts at
    # the earliest offset, and records already deleted by retention are not lag.
    assert group_lag({0: -1001}, {0: (40, 100)}) == 60
    assert group_lag({}, {0: (0, 7)}) == 7


def test_lag_is_never_negative() -> None:
    assert group_lag({0: 12}, {0: (0, 10)}) == 0


def test_an_empty_topic_has_no_lag() -> None:
    assert group_lag({}, {0: (0, 0), 1: (0, 0)}) == 0


def test_lag_of_an_offsets_source() -> None:
    offsets = FakeOffsets({0: 100, 1: 90, 2: -1001}, {0: (0, 100), 1: (0, 100), 2: (0, 3)})
    assert lag(offsets) == 13
    offsets.commits = {0: 100, 1: 100, 2: 3}
    assert lag(offsets) == 0


def test_until_zero_waits_for_the_lag_to_reach_zero() -> None:
    readings = iter([5, 2, 0])
    assert until_zero(lambda: next(readings), timeout=60) is not None
    assert next(readings, "drained") == "drained"


def test_until_zero_gives_up_at_the_timeout() -> None:
    assert until_zero(lambda: 1, timeout=0) is None
