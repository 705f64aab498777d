"""One chaos run: one private stack per size the chosen scenarios need (one broker, then
three), each scenario on a pipeline of its own, the table printed and ``latest.json``
written, each private stack stopped before the next starts (the machine is small).

A scenario: its stage made, if it has one (a rollout builds its new version), its
pipeline up (ingest replicas, sink replicas), the pipeline's peak measured on it
(:mod:`iotpipe.chaos.peak`), then a steady stream at half of that peak, the fault struck
and lifted while it streams, a while more of stream, then the stream stopped, retries
drained, the group's lag waited to 0, and every reading counted (and the stage's own
accounting).
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from iotpipe.chaos.driver import LoadDriver
from iotpipe.chaos.fault import Fault, Plan, wait_for
from iotpipe.chaos.peak import measure_peak
from iotpipe.chaos.pipeline import Pipeline, spread
from iotpipe.chaos.scenarios import SCENARIOS
from iotpipe.chaos.stack import private_stack
from iotpipe.chaos.targets import Targets
from iotpipe.chaos.verdict import FaultTimes, ScenarioResult, drain, judge
from iotpipe.chaos.watch import KafkaWatch, LagSampler
from iotpipe.errors import ConfigError
from iotpipe.stack.manager import Stack
from iotpipe.terminal import make_console

__all__ = ["machine", "run_chaos", "run_scenario"]

DRAIN_SECONDS = 180.0  # retries after an outage, then a killed member's partitions catch up
WARM_READINGS = 50


def run_scenario(
    stack: Stack, name: str, plan: Plan, workdir: Path, *, console: Console
) -> ScenarioResult:
    """Peak, stream at half of it, inject ``name``'s fault, stop, drain, count, judge."""
    spec = SCENARIOS[name]
    began = time.monotonic()
    endpoints = stack.status(probe=False).endpoints()
    pipeline = Pipeline(
        name,
        endpoints,
        workdir / name,
        brokers=spec.brokers,
        ingest_workers=spec.ingest_workers,
    )
    watch: KafkaWatch | None = None
    sampler: LagSampler | None = None
    try:
        stage = spec.stage(stack, pipeline, plan) if spec.stage else None
        pipeline.prepare()
        for _ in range(spec.ingest_replicas):
            pipeline.start_ingest()
        for _ in range(spec.sinks):
            pipeline.new_sink().start()
        assigned = wait_for(lambda: spread(pipeline.sinks), 120, every=0.5)
        watch = KafkaWatch(endpoints["kafka"], pipeline.topic, pipeline.group_id)
        targets = stage.targets() if stage else Targets([i.url for i in pipeline.ingests])
        driver = LoadDriver(targets, pipeline.keys)
        try:
            peak = measure_peak(driver, watch, seconds=plan.burst)
            rate = peak.readings_per_s / 2
            console.print(
                f"[bold]{name}[/]: peak {peak.readings_per_s:,.0f} readings/s (ingest "
                f"{peak.ingest_per_s:,.0f}, sinks {peak.sink_per_s:,.0f}); streaming "
                f"{rate:,.0f} readings/s"
            )
            driver.start(rate)
            sampler = LagSampler(watch).start()
            flowing = driver.wait_acknowledged(WARM_READINGS, timeout=90)
            time.sleep(plan.before)
            console.print(f"[bold]{name}[/]: injecting the fault")
            fault = Fault(stack, pipeline, driver, plan, random.Random(), watch, stage)  # noqa: S311
            called = time.monotonic()
            checks = spec.run(fault)
            returned = time.monotonic()
            time.sleep(plan.after)
        finally:
            ledger = driver.finish(drain_seconds=DRAIN_SECONDS)
        checks = {
            "every sink replica held partitions before the stream": assigned,
            "pipeline flowing before the fault": flowing,
            **checks,
        }
        console.print(f"[bold]{name}[/]: stream stopped, waiting for the sinks to drain")
        drained = drain(
            watch, endpoints["mongodb"], pipeline.database, ledger.ids("acknowledged"),
            timeout=DRAIN_SECONDS, sqlite_dir=stack.state_dir / "mongodb" / "data",
        )  # fmt: skip
        times = FaultTimes(
            struck=fault.struck or called,
            over=fault.over or returned,
            lag=sampler.stop(),
            offered_per_s=rate,
            peak=peak.as_dict(),
        )
        if stage is not None:
            console.print(f"[bold]{name}[/]: counting by version")
        accounting = stage.account(ledger, drained.stored) if stage else None
        result = judge(
            name, ledger, drained.stored, checks, time.monotonic() - began,
            times=times, brokers=spec.brokers, accounting=accounting,
        )  # fmt: skip
        result.drain = {
            "lag_zero_s": round(drained.lag_zero_s, 1),
            "fetch_s": round(drained.fetch_s, 2),
            "scans": drained.scans,
        }
        return result
    finally:
        if sampler is not None:
            sampler.stop()
        pipeline.close()
        if watch is not None:
            watch.close()


def machine() -> dict[str, Any]:
    pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(pages * page / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def run_chaos(
    plan: Plan,
    *,
    names: Sequence[str],
    state_dir: Path,
    output: Path,
    console: Console,
) -> list[ScenarioResult]:
    from iotpipe.chaos.report import (  # noqa: PLC0415 - rich only at the end
        markdown,
        table,
        versions_table,
    )

    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ConfigError(f"unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIOS)}")
    results: list[ScenarioResult] = []
    stack_up_s: dict[str, float] = {}
    began = time.monotonic()
    for brokers in sorted({SCENARIOS[n].brokers for n in names}):
        stack = private_stack(state_dir / f"brokers-{brokers}", brokers=brokers, console=console)
        try:
            up = time.monotonic()
            stack.up()
            stack_up_s[str(brokers)] = round(time.monotonic() - up, 1)
            for name in (n for n in names if SCENARIOS[n].brokers == brokers):
                results.append(
                    run_scenario(stack, name, plan, state_dir / "pipelines", console=console)
                )
                make_console(stderr=True).print(table(results[-1:]))
                if (versions := versions_table(results[-1])) is not None:
                    make_console(stderr=True).print(versions)
        finally:
            stack.down(wipe=False)
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "short": plan.short,
                "seconds": round(time.monotonic() - began, 1),
                "stack_up_seconds": stack_up_s,
                "scenarios": [r.as_dict() for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    (output / "latest.md").write_text(markdown(results))
    make_console(stderr=False).print(table(results))
    for result in results:
        if (versions := versions_table(result)) is not None:
            make_console(stderr=False).print(versions)
    return results
