"""A short peak probe: the bench's load generator at full speed on ingest while the sink
consumes, for the rate the pipeline sustains end to end on this machine now.

Both sides are measured in the same run because on a small machine they share the cores:
ingest's rate alone would overstate what the sink can keep up with. The sink's rate is
the readings of the probe over the time from its start until the group's lag is back to
zero: a sink faster than ingest finishes right after the load (its rate is then ingest's), a
slower one is measured over its whole backlog rather than over a window it may have spent
joining the group. One batch is sent and stored first, so the sink has its partitions
before the clock starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from iotpipe.bench.loadgen import run_load
from iotpipe.bench.processes import metrics
from iotpipe.bench.workload import batch_body
from iotpipe.soak.world import SoakWorld

__all__ = ["Peak", "probe_peak", "stored", "until_zero"]

PROBE_CONNECTIONS = 8


@dataclass(frozen=True)
class Peak:
    ingest_readings_per_s: float
    sink_docs_per_s: float
    drain_s: float  # from the end of the load until the lag was zero
    loadgen_cpu_share: float
    errors: int

    @property
    def readings_per_s(self) -> float:
        return min(self.ingest_readings_per_s, self.sink_docs_per_s)


def stored(world: SoakWorld) -> float:
    """Readings the sink has inserted so far (its own counter)."""
    return metrics(f"{world.sink_url}/metrics").get(
        'iotpipe_sink_written_total{collection="readings"}', 0.0
    )


def until_zero(lag: Callable[[], int], timeout: float) -> float | None:
    """Seconds until ``lag()`` is 0, polled every half second; None on timeout."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if lag() == 0:
            return time.perf_counter() - began
        time.sleep(0.5)
    return None


def probe_peak(
    world: SoakWorld, lag: Callable[[], int], *, batch: int, seconds: float, timeout: float
) -> Peak:
    url = f"{world.ingest_url}/v1/readings/batch"
    body = batch_body(batch)
    headers = {"Authorization": f"Bearer {world.key}", "Content-Type": "application/json"}
    httpx.post(url, content=body, headers=headers, timeout=30).raise_for_status()
    if until_zero(lag, timeout) is None:
        raise RuntimeError("the sink did not store the probe's first batch")
    before, began = stored(world), time.perf_counter()
    result = run_load(url, body, key=world.key, connections=PROBE_CONNECTIONS, seconds=seconds)
    drain = until_zero(lag, timeout)
    if drain is None:
        raise RuntimeError(f"the sink did not drain the probe's backlog in {timeout:.0f} s")
    sink_rate = (stored(world) - before) / (time.perf_counter() - began)
    return Peak(
        ingest_readings_per_s=result.requests_per_s * batch,
        sink_docs_per_s=sink_rate,
        drain_s=drain,
        loadgen_cpu_share=result.cpu_share,
        errors=result.non2xx + result.errors,
    )
