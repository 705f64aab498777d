"""A short peak probe: wrk at full speed on ingest while the sink consumes, for the rate
the pipeline sustains end to end on this machine now.

Both sides are measured in the same window because on a small machine they share the
cores: ingest's rate alone would overstate what the sink can keep up with. The peak is
the smaller of ingest's accepted readings/s and the sink's stored documents/s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from iotpipe.bench.processes import metrics
from iotpipe.bench.workload import batch_body
from iotpipe.bench.wrk import run_wrk
from iotpipe.soak.world import SoakWorld

__all__ = ["Peak", "probe_peak", "stored"]

PROBE_CONNECTIONS = 8


@dataclass(frozen=True)
class Peak:
    ingest_readings_per_s: float
    sink_docs_per_s: float
    wrk_cpu_share: float
    errors: int

    @property
    def readings_per_s(self) -> float:
        return min(self.ingest_readings_per_s, self.sink_docs_per_s)


def stored(world: SoakWorld) -> float:
    """Readings the sink has inserted so far (its own counter)."""
    return metrics(f"{world.sink_url}/metrics").get(
        'iotpipe_sink_written_total{collection="readings"}', 0.0
    )


def probe_peak(world: SoakWorld, *, batch: int, seconds: float) -> Peak:
    url = f"{world.ingest_url}/v1/readings/batch"
    before, began = stored(world), time.perf_counter()
    result = run_wrk(
        url, batch_body(batch), key=world.key, connections=PROBE_CONNECTIONS, seconds=seconds
    )
    sink_rate = (stored(world) - before) / (time.perf_counter() - began)
    return Peak(
        ingest_readings_per_s=result.requests_per_s * batch,
        sink_docs_per_s=sink_rate,
        wrk_cpu_share=result.cpu_share,
        errors=result.non2xx + result.errors,
    )
