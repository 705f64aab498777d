"""Slope, growth and the flat rule, on RSS series made up for the case."""

from __future__ import annotations

import pytest

from iotpipe.soak.growth import MAX_GROWTH, MAX_SLOPE_MB_PER_MIN, growth, slope


def test_slope_of_a_straight_line_is_its_gradient() -> None:
    times = [0.0, 10.0, 20.0, 30.0]
    assert slope(times, [100 + 0.5 * t for t in times]) == pytest.approx(0.5)


def test_slope_fits_through_noise() -> None:
    times = [0.0, 10.0, 20.0, 30.0, 40.0]
    values = [100.0, 102.0, 100.0, 102.0, 100.0]  # zigzag, no trend
    assert slope(times, values) == pytest.approx(0.0)


def test_slope_needs_two_distinct_times() -> None:
    assert slope([5.0], [100.0]) == 0.0
    assert slope([5.0, 5.0], [100.0, 200.0]) == 0.0
    with pytest.raises(ValueError, match="length"):
        slope([0.0, 1.0], [1.0])


def test_growth_is_first_to_last_with_the_slope_per_minute() -> None:
    g = growth([60.0, 120.0, 180.0], [100.0, 101.0, 102.0])
    assert (g.start_mb, g.end_mb, g.growth_mb) == (100.0, 102.0, 2.0)
    assert g.growth_ratio == pytest.approx(0.02)
    assert g.slope_mb_per_min == pytest.approx(1.0)


def test_steady_memory_is_flat() -> None:
    assert growth([60.0, 120.0, 180.0, 240.0], [110.0, 111.0, 110.5, 110.8]).flat


def test_a_steady_slope_is_not_flat_even_under_the_percentage() -> None:
    # 2 MB/min on 1 GB: +0.6 % over three minutes, still a leak.
    times = [0.0, 60.0, 120.0, 180.0]
    g = growth(times, [1000.0 + 2 * t / 60 for t in times])
    assert g.growth_ratio < MAX_GROWTH
    assert g.slope_mb_per_min > MAX_SLOPE_MB_PER_MIN
    assert not g.flat


def test_a_step_is_not_flat_even_when_the_fit_is_gentle() -> None:
    # +15 % at the last sample of a long flat run: the fit stays low, the growth does not.
    times = [float(60 * i) for i in range(30)]
    values = [100.0] * 29 + [115.0]
    g = growth(times, values)
    assert g.slope_mb_per_min < MAX_SLOPE_MB_PER_MIN
    assert not g.flat


def test_no_samples_after_warm_up_is_an_error() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        growth([], [])
