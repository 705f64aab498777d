"""The scenario pipeline's peak, measured on it just before the fault: a short burst of
batches at high concurrency through ingest while the sinks consume, then the backlog
drained.

Both ends count, on the same machine at the same time (they share its cores): ingest's
rate is the readings it acknowledged per second of the burst; the sinks' rate is what
the group committed from the burst's start until its lag was back to 0, over that time
(a sink group faster than ingest finishes with the burst; a slower one is measured over
its whole backlog). The peak is the lower of the two; the stream then runs at half of it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from iotpipe.chaos.driver import LoadDriver
from iotpipe.chaos.watch import KafkaWatch
from iotpipe.errors import ServiceFailed

__all__ = ["Peak", "measure_peak"]


@dataclass(frozen=True)
class Peak:
    ingest_per_s: float  # readings acknowledged per second of the burst
    sink_per_s: float  # records committed by the group per second, burst and drain
    burst_s: float
    drain_s: float  # from the burst's end until the group's lag was 0

    @property
    def readings_per_s(self) -> float:
        return min(self.ingest_per_s, self.sink_per_s)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "readings_per_s": round(self.readings_per_s, 1)}


def measure_peak(
    driver: LoadDriver, watch: KafkaWatch, *, seconds: float, timeout: float = 180
) -> Peak:
    if not watch.wait_lag_zero(timeout):
        raise ServiceFailed("the sinks did not catch up before the peak probe")
    before = watch.stored()
    began = time.monotonic()
    ingest = driver.burst(seconds)
    burst_end = time.monotonic()
    if not watch.wait_lag_zero(timeout):
        raise ServiceFailed(f"the sinks did not drain the peak probe's backlog in {timeout:.0f} s")
    after = watch.stored()
    if before is None or after is None:
        raise ServiceFailed("the group's offsets could not be read after the peak probe")
    ended = time.monotonic()
    return Peak(
        ingest_per_s=ingest,
        sink_per_s=(after - before) / (ended - began),
        burst_s=burst_end - began,
        drain_s=ended - burst_end,
    )
