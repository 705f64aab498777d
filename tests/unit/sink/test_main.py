"""The sink process's runtime tuning: the garbage collector as its settings say."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sink.main import tune_runtime
from sink.settings import SinkSettings


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_the_collector_runs_less_often_and_skips_what_start_up_built() -> None:
    tune_runtime(SinkSettings(gc_gen0_threshold=50_000, gc_freeze=True))
    assert gc.get_threshold()[0] == 50_000
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector")
def test_zero_and_false_keep_python_s_defaults() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    tune_runtime(SinkSettings(gc_gen0_threshold=0, gc_freeze=False))
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
