"""``iotpipe bench``: the pipeline against its limits on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from iotpipe.paths import REPO_DIR

__all__ = ["bench"]


def bench(
    seconds: Annotated[float, typer.Option(help="Length of each load phase.")] = 10.0,
    prefill: Annotated[
        int, typer.Option(help="Readings for the producer, database and sink phases.")
    ] = 60_000,
    e2e_seconds: Annotated[float, typer.Option(help="Length of the end-to-end phase.")] = 20.0,
    output: Annotated[Path, typer.Option(help="Folder for latest.json and latest.png.")] = (
        REPO_DIR / "results" / "bench"
    ),
    peers: Annotated[
        bool,
        typer.Option(
            help="Also measure the peers (Benthos, Kafka Connect + MongoDB sink connector); "
            "the first run builds them (minutes)."
        ),
    ] = True,
) -> None:
    """Measure ingest (single, batch, WebSocket), the sink and end to end against the bare
    producer, HTTP server and database and against the peers, in one run; print the table
    with the targets' verdicts, write JSON and PNG."""
    from iotpipe.bench import report  # noqa: PLC0415 - loads the benchmark only here
    from iotpipe.bench.run import PEERS, BenchPlan, run_bench  # noqa: PLC0415

    plan = BenchPlan(
        seconds=seconds, prefill=prefill, e2e_seconds=e2e_seconds, peers=PEERS if peers else ()
    )
    result = report.summarize(run_bench(plan))
    Console().print(report.table(result))
    data, chart = report.write(result, output)
    Console(stderr=True).print(f"wrote {data} and {chart}")
