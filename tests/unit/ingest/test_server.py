"""ingest.server: the runtime tuning every server process (ingest's and the benchmark's
bare server) applies when it builds its app."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ingest.server import tune_runtime
from ingest.settings import IngestSettings


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_youngest_generation_threshold_is_the_setting(
    thresholds: tuple[int, int, int],
) -> None:
    tune_runtime(IngestSettings(gc_gen0_threshold=12_345))
    assert gc.get_threshold() == (12_345, thresholds[1], thresholds[2])


def test_zero_keeps_pythons_thresholds(thresholds: tuple[int, int, int]) -> None:
    tune_runtime(IngestSettings(gc_gen0_threshold=0))
    assert gc.get_threshold() == thresholds


def test_the_default_raises_the_youngest_threshold(thresholds: tuple[int, int, int]) -> None:
    tune_runtime(IngestSettings())
    assert gc.get_threshold()[0] == 50_000
