"""One sample of the soak every few seconds, and the pure reading of it: per-process RSS
after warm-up, and the error counts hidden in Prometheus text.

Errors are counted on both sides: the load generator sees what the client got (including
no answer at all); ingest's ``iotpipe_ingest_requests_total`` sees what it answered, so a
disagreement points at the network or the client rather than ingest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Sample", "counter_sum", "ingest_non_2xx", "series_after"]

_STATUS = re.compile(r'status="(\d+)"')


@dataclass(frozen=True)
class Sample:
    t_s: float  # seconds since the load started
    rss_mb: dict[str, float | None]  # process name -> MB (None: not running)
    lag: int  # records the sink's group has not committed
    sent: int  # requests the load generator started
    load_errors: int  # non-2xx, no answer or skipped, seen by the load generator
    ingest_non_2xx: int  # non-2xx answers counted by ingest itself
    p99_ms: float | None = None  # requests answered since the previous sample


def counter_sum(metrics: Mapping[str, float], name: str) -> float:
    """All samples of counter ``name`` (any labels), as :func:`~iotpipe.bench.processes.
    metrics` returns them."""
    return sum(
        value for sample, value in metrics.items() if sample.split("{", 1)[0] == f"{name}_total"
    )


def ingest_non_2xx(metrics: Mapping[str, float]) -> int:
    """Requests and frames ingest answered with anything but 2xx."""
    total = 0.0
    for sample, value in metrics.items():
        if sample.startswith("iotpipe_ingest_requests_total{"):
            status = _STATUS.search(sample)
            if status is None or not status.group(1).startswith("2"):
                total += value
    return int(total)


def series_after(
    samples: Sequence[Sample], process: str, warmup_s: float
) -> tuple[list[float], list[float]]:
    """Times and RSS of ``process`` from the end of warm-up on, skipping samples where it
    was not running."""
    times, values = [], []
    for sample in samples:
        rss = sample.rss_mb.get(process)
        if sample.t_s >= warmup_s and rss is not None:
            times.append(sample.t_s)
            values.append(rss)
    return times, values
