"""One soak run: ingest and sink as real processes, a peak probe, then half of peak at a
constant rate for the planned minutes, sampled every ``interval_s``; then the load stops
and the sink's lag is watched until it is back to zero."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from iotpipe.bench import loadgen
from iotpipe.bench.phases import percentile
from iotpipe.bench.processes import metrics, serve
from iotpipe.bench.workload import fleet_batch_body
from iotpipe.soak.growth import growth, slope
from iotpipe.soak.lag import KafkaOffsets
from iotpipe.soak.load import LoadCounts, PacedLoad
from iotpipe.soak.probe import Peak, probe_peak, until_zero
from iotpipe.soak.rss import tree_rss_mb
from iotpipe.soak.samples import Sample, counter_sum, ingest_non_2xx, series_after
from iotpipe.soak.verdict import judge
from iotpipe.soak.world import SoakWorld, soak_world
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings

__all__ = ["PIPELINE", "SoakPlan", "fleet_bodies", "run_soak"]

console = Console(stderr=True)
PIPELINE = ("ingest", "sink")  # judged; the stack's processes are shown for information


@dataclass(frozen=True)
class SoakPlan:
    minutes: float = 10.0
    rate: float | None = None  # readings/s; None: half of the probed peak
    batch: int = 20  # readings per request: 50 requests/s at 1,000 readings/s
    # Devices taking turns (four sensors each): at 1,000 readings/s each sensor reports
    # every 4 s, 15 readings per rollup minute; readings are timed when sent.
    devices: int = 1000
    interval_s: float = 10.0
    warmup_s: float = 60.0  # RSS "start" is the first sample after this
    probe_s: float = 15.0
    drain_timeout_s: float = 300.0
    logs: Path | None = None  # keep ingest's and sink's logs here


def fleet_bodies(plan: SoakPlan) -> Callable[[int], bytes]:
    """The body of the soak's request number n (PacedLoad passes n)."""

    def body(number: int) -> bytes:
        return fleet_batch_body(plan.batch, request=number, devices=plan.devices)

    return body


def run_soak(plan: SoakPlan) -> dict[str, Any]:
    loadgen.prepare(console)  # built on first use, before anything starts
    status = Stack(StackSettings(), console=console).up()
    pids = {f"stack {s.name}": s.pid for s in status.services if s.pid is not None}
    with soak_world(status.endpoints(), keep_logs=plan.logs) as world:
        logs = world.workdir
        with (
            serve(["-m", "iotpipe", "sink"], world.sink_env(), logs / "sink.log",
                  f"{world.sink_url}/healthz") as sink,
            serve(["-m", "iotpipe", "ingest"], world.ingest_env(), logs / "ingest.log",
                  f"{world.ingest_url}/readyz") as ingest,
        ):  # fmt: skip
            pids = {"ingest": ingest.pid, "sink": sink.pid, **pids}
            offsets = KafkaOffsets(world.endpoints["kafka"], world.topic, world.group_id)
            try:
                return _soak(plan, world, offsets, pids)
            finally:
                offsets.close()
    raise AssertionError("unreachable")  # pragma: no cover - mypy: `with` may swallow


def _soak(
    plan: SoakPlan, world: SoakWorld, offsets: KafkaOffsets, pids: dict[str, int]
) -> dict[str, Any]:
    peak: Peak | None = None
    rate = plan.rate
    if rate is None:
        console.print(f"peak probe: the load generator at full speed for {plan.probe_s:.0f} s...")
        peak = probe_peak(
            world, offsets.lag, batch=plan.batch, seconds=plan.probe_s,
            timeout=plan.drain_timeout_s,
        )  # fmt: skip
        rate = peak.readings_per_s / 2
        console.print(
            f"  ingest {peak.ingest_readings_per_s:,.0f} readings/s, sink "
            f"{peak.sink_docs_per_s:,.0f} docs/s (backlog drained {peak.drain_s:.0f} s after "
            f"the load) -> soak at {rate:,.0f} readings/s"
        )
    load = PacedLoad(
        f"{world.ingest_url}/v1/readings/batch",
        fleet_bodies(plan),
        key=world.key,
        requests_per_s=rate / plan.batch,
    )
    samples: list[Sample] = []
    seconds = plan.minutes * 60
    console.print(f"soak: {rate:,.0f} readings/s for {plan.minutes:g} min...")
    load.start()
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        samples.append(_sample(elapsed, pids, offsets, load, world))
        _progress(samples[-1])
        time.sleep(max(0.0, plan.interval_s - (time.perf_counter() - began - elapsed)))
    final = load.stop()
    wall = time.perf_counter() - began
    samples.append(_sample(wall, pids, offsets, load, world))
    console.print("load stopped; waiting for the sink's lag to reach zero...")
    lag_to_zero = until_zero(offsets.lag, plan.drain_timeout_s)
    sink_metrics = metrics(f"{world.sink_url}/metrics")
    return _result(
        plan, samples, final,
        rate=rate, wall=wall, peak=peak, lag_to_zero=lag_to_zero,
        dead_letters=int(counter_sum(sink_metrics, "iotpipe_sink_dead_letters")),
    )  # fmt: skip


def _sample(
    t: float, pids: dict[str, int], offsets: KafkaOffsets, load: PacedLoad, world: SoakWorld
) -> Sample:
    counts, latencies = load.counts(), load.take_latencies_ms()
    return Sample(
        t_s=round(t, 2),
        rss_mb={name: tree_rss_mb(pid) for name, pid in pids.items()},
        lag=offsets.lag(),
        sent=counts.sent,
        load_errors=counts.errors,
        ingest_non_2xx=ingest_non_2xx(metrics(f"{world.ingest_url}/metrics")),
        p99_ms=round(percentile(latencies, 0.99), 1) if latencies else None,
    )


def _progress(s: Sample) -> None:
    rss = ", ".join(f"{k} {v:.0f}" for k, v in s.rss_mb.items() if v is not None)
    console.print(
        f"  {s.t_s:6.0f} s  sent {s.sent:,}  errors {s.load_errors}/{s.ingest_non_2xx}  "
        f"p99 {s.p99_ms or 0:.0f} ms  lag {s.lag:,}  RSS MB: {rss}"
    )


def _result(
    plan: SoakPlan,
    samples: list[Sample],
    final: LoadCounts,
    *,
    rate: float,
    wall: float,
    peak: Peak | None,
    lag_to_zero: float | None,
    dead_letters: int,
) -> dict[str, Any]:
    growths = {}
    for name in samples[0].rss_mb:
        times, values = series_after(samples, name, plan.warmup_s)
        if values:
            growths[name] = growth(times, values)
    processes = {
        name: {
            **asdict(g),
            "growth_mb": g.growth_mb,
            "growth_ratio": g.growth_ratio,
            "flat": g.flat,
            "judged": name in PIPELINE,
        }
        for name, g in growths.items()
    }
    judged = {name: g for name, g in growths.items() if name in PIPELINE}
    ingest_errors = samples[-1].ingest_non_2xx
    verdict = judge(
        judged, load_errors=final.errors, ingest_non_2xx=ingest_errors,
        dead_letters=dead_letters, lag_to_zero_s=lag_to_zero,
    )  # fmt: skip
    return {
        "plan": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan).items()},
        "peak": None if peak is None else {**asdict(peak), "readings_per_s": peak.readings_per_s},
        "rate_readings_per_s": rate,
        "achieved_readings_per_s": final.sent * plan.batch / wall,
        "load": {
            **asdict(final),
            "errors": final.errors,
            "cpu_share": final.cpu_seconds / (wall * (os.cpu_count() or 1)),
        },
        "processes": processes,
        "ingest_non_2xx": ingest_errors,
        "dead_letters": dead_letters,
        "lag_to_zero_s": lag_to_zero,
        "lag_max": max(s.lag for s in samples),
        "p99_ms_max": max((s.p99_ms for s in samples if s.p99_ms is not None), default=None),
        "lag_at_stop": samples[-1].lag,
        "lag_slope_per_min": _lag_slope(samples, plan.warmup_s),
        "verdict": {"passed": verdict.passed, "failures": verdict.failures},
        "samples": [asdict(s) for s in samples],
        "machine": {"cores": os.cpu_count() or 1, "platform": platform.platform()},
    }


def _lag_slope(samples: list[Sample], warmup_s: float) -> float:
    """Records/min the lag trends by after warm-up (information: a sink that keeps up
    holds it near zero; a positive trend means it would fall behind without end)."""
    after = [s for s in samples if s.t_s >= warmup_s]
    return slope([s.t_s for s in after], [float(s.lag) for s in after]) * 60
