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
    gc.unfreeze()


def test_the_youngest_generation_threshold_is_the_setting(
    thresholds: tuple[int, int, int],
) -> None:
    tune_runtime(IngestSettings(gc_gen0_threshold=12_345, gc_freeze=False))
    assert gc.get_threshold() == (12_345, thresholds[1], thresholds[2])


def test_zero_keeps_pythons_thresholds(thresholds: tuple[int, int, int]) -> None:
    tune_runtime(IngestSettings(gc_gen0_threshold=0, gc_freeze=False))
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_what_exists_when_the_app_is_built_is_frozen(thresholds: tuple[int, int, int]) -> None:
    built: dict[str, list[str]] = {"app": []}  # alive when tune_runtime runs
    assert any(o is built for o in gc.get_objects())
    tune_runtime(IngestSettings())
    assert gc.get_freeze_count() > 0
    # in the permanent generation: no collection walks it any more
    assert not any(o is built for o in gc.get_objects())


def test_the_default_raises_the_youngest_threshold(thresholds: tuple[int, int, int]) -> None:
    tune_runtime(IngestSettings())
    assert gc.get_threshold()[0] == 50_000
