"""``iotpipe chaos``: the fault-injection suite on a private stack of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from iotpipe.paths import REPO_DIR

__all__ = ["chaos"]


def chaos(
    short: Annotated[
        bool, typer.Option("--short", help="The CI form: fewer kills, shorter outages.")
    ] = False,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Run only this scenario (repeatable).")
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="The private stack's folder, emptied first [state/iotpipe/chaos-stack]."),
    ] = None,
    output: Annotated[Path, typer.Option(help="Folder for latest.json.")] = (
        REPO_DIR / "results" / "chaos"
    ),
) -> None:
    """Kill and restart the sink, Kafka, the database and the registry, inject poison
    records and kill a group member while readings stream; exit 1 unless every
    acknowledged reading is stored exactly once in every scenario."""
    from iotpipe.chaos.run import run_chaos  # noqa: PLC0415 - loads the suite only here
    from iotpipe.chaos.scenarios import SCENARIOS, Plan  # noqa: PLC0415
    from iotpipe.chaos.stack import default_chaos_state_dir  # noqa: PLC0415

    results = run_chaos(
        Plan(short=short),
        names=scenario or list(SCENARIOS),
        state_dir=state_dir or default_chaos_state_dir(),
        output=output,
        console=Console(stderr=True),
    )
    raise typer.Exit(0 if all(r.passed for r in results) else 1)
