"""One chaos run: the private stack up, each scenario on a pipeline of its own, the
table printed and ``latest.json`` written, the private stack down and wiped."""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from iotpipe.chaos.driver import LoadDriver
from iotpipe.chaos.pipeline import Pipeline
from iotpipe.chaos.scenarios import SCENARIOS, Fault, Plan
from iotpipe.chaos.stack import private_stack
from iotpipe.chaos.verdict import ScenarioResult, drain, judge
from iotpipe.errors import ConfigError
from iotpipe.stack.manager import Stack

__all__ = ["run_chaos", "run_scenario"]

DRAIN_SECONDS = 150.0  # a SIGKILLed group member is noticed after 45 s; then it catches up
WARM_READINGS = 50


def run_scenario(
    stack: Stack, name: str, plan: Plan, workdir: Path, *, console: Console
) -> ScenarioResult:
    """Stream readings, inject ``name``'s fault, stop the stream, drain, count, judge."""
    began = time.monotonic()
    endpoints = stack.status(probe=False).endpoints()
    pipeline = Pipeline(name, endpoints, workdir / name)
    try:
        pipeline.prepare()
        pipeline.start_ingest()
        pipeline.new_sink().start()
        driver = LoadDriver(pipeline.base_url, pipeline.keys).start()
        try:
            flowing = driver.wait_acknowledged(WARM_READINGS, timeout=90)
            console.print(f"[bold]{name}[/]: streaming, injecting the fault")
            checks = SCENARIOS[name](Fault(stack, pipeline, driver, plan, random.Random()))  # noqa: S311
        finally:
            ledger = driver.finish(drain_seconds=DRAIN_SECONDS)
        checks = {"pipeline flowing before the fault": flowing, **checks}
        console.print(f"[bold]{name}[/]: stream stopped, waiting for the sink to drain")
        stored = drain(
            endpoints["mongodb"], pipeline.database, ledger.ids("acknowledged"), DRAIN_SECONDS
        )
        return judge(name, ledger, stored, checks, time.monotonic() - began)
    finally:
        pipeline.close()


def run_chaos(
    plan: Plan,
    *,
    names: Sequence[str],
    state_dir: Path,
    output: Path,
    console: Console,
) -> list[ScenarioResult]:
    from iotpipe.chaos.report import table  # noqa: PLC0415 - rich table only at the end

    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ConfigError(f"unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIOS)}")
    stack = private_stack(state_dir, console=console)
    results: list[ScenarioResult] = []
    began = time.monotonic()
    try:
        stack.up()
        for name in names:
            results.append(
                run_scenario(stack, name, plan, state_dir / "pipelines", console=console)
            )
            _wide(stderr=True).print(table(results[-1:]))
    finally:
        stack.down(wipe=False)
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(
        json.dumps(
            {
                "short": plan.short,
                "seconds": round(time.monotonic() - began, 1),
                "scenarios": [r.as_dict() for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    _wide(stderr=False).print(table(results))
    return results


def _wide(*, stderr: bool) -> Console:
    """The terminal's width, or 180 columns in a log (rich would squeeze to 80)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 180)
