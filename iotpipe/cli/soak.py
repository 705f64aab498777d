"""``iotpipe soak``: half of peak for minutes; memory flat, no error, lag back to zero."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iotpipe.paths import REPO_DIR
from iotpipe.terminal import make_console

__all__ = ["soak"]


def soak(  # noqa: PLR0917 - Typer options
    minutes: Annotated[float, typer.Option(help="Length of the load.")] = 10.0,
    rate: Annotated[
        float | None,
        typer.Option(help="Readings/s to hold (default: half of a short peak probe)."),
    ] = None,
    batch: Annotated[int, typer.Option(help="Readings per request.")] = 20,
    devices: Annotated[
        int,
        typer.Option(help="Devices taking turns (four sensors each), readings timed when sent."),
    ] = 1000,
    interval: Annotated[float, typer.Option(help="Seconds between samples.")] = 10.0,
    warmup: Annotated[float, typer.Option(help="Seconds before RSS 'start' is taken.")] = 60.0,
    output: Annotated[Path, typer.Option(help="Folder for latest.json and latest.png.")] = (
        REPO_DIR / "results" / "soak"
    ),
    logs: Annotated[
        Path | None, typer.Option(help="Keep ingest's and sink's logs here (default: dropped).")
    ] = None,
) -> None:
    """Run ingest and sink under a constant load at half of peak; sample RSS, errors and
    consumer lag; print the table and a verdict, write JSON and PNG. Exit 1 on FAIL."""
    from iotpipe.soak import report  # noqa: PLC0415 - loads the soak only here
    from iotpipe.soak.run import SoakPlan, run_soak  # noqa: PLC0415

    plan = SoakPlan(
        minutes=minutes,
        rate=rate,
        batch=batch,
        devices=devices,
        interval_s=interval,
        warmup_s=warmup,
        logs=logs,
    )
    result = run_soak(plan)
    # A log (nox, CI, a file) gets the table at 120 columns, not rich's 80 that wraps it.
    make_console().print(report.table(result))
    data, chart = report.write(result, output)
    make_console(stderr=True).print(f"wrote {data} and {chart}")
    if not result["verdict"]["passed"]:
        raise typer.Exit(1)
