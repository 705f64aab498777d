"""From RSS samples to a verdict: growth from start to end, a least-squares slope, flat or
not.

Bounds, and why: after warm-up a Python service's RSS still moves by a few MB as the
allocator settles and caches fill, so a start-to-end growth under ``MAX_GROWTH`` (10 %)
is noise; a real leak shows as a steady slope, and ``MAX_SLOPE_MB_PER_MIN`` (1 MB/min)
would already be 1.4 GB a day, which no service here may do. Both must hold: the slope
catches a leak a short run's noise hides in the percentage, the percentage catches a step
that a fit over a few points flattens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_GROWTH", "MAX_SLOPE_MB_PER_MIN", "Growth", "growth", "slope"]

MAX_GROWTH = 0.10
MAX_SLOPE_MB_PER_MIN = 1.0


def slope(times_s: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` over ``times_s`` (units per second); 0 with fewer
    than two distinct times."""
    n = len(times_s)
    if n != len(values):
        raise ValueError("times and values differ in length")
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times_s) / n, sum(values) / n
    spread = sum((t - mean_t) ** 2 for t in times_s)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True)) / spread


@dataclass(frozen=True)
class Growth:
    start_mb: float
    end_mb: float
    slope_mb_per_min: float

    @property
    def growth_mb(self) -> float:
        return self.end_mb - self.start_mb

    @property
    def growth_ratio(self) -> float:
        return self.growth_mb / self.start_mb if self.start_mb > 0 else float("inf")

    @property
    def flat(self) -> bool:
        return self.growth_ratio < MAX_GROWTH and self.slope_mb_per_min < MAX_SLOPE_MB_PER_MIN


def growth(times_s: Sequence[float], rss_mb: Sequence[float]) -> Growth:
    """The samples after warm-up of one process: first, last and the fitted slope."""
    if not rss_mb:
        raise ValueError("no samples after warm-up")
    return Growth(
        start_mb=rss_mb[0],
        end_mb=rss_mb[-1],
        slope_mb_per_min=slope(times_s, rss_mb) * 60,
    )
