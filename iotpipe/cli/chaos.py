"""``iotpipe chaos``: the fault-injection suite on private stacks of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iotpipe.paths import REPO_DIR
from iotpipe.terminal import make_console

__all__ = ["chaos"]


def chaos(  # noqa: PLR0917 - Typer options
    short: Annotated[
        bool,
        typer.Option("--short", help="The CI form: shorter probes, outages and fewer kills."),
    ] = False,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Run only this scenario (repeatable).")
    ] = None,
    ci: Annotated[
        bool, typer.Option("--ci", help="Only the scenarios CI runs (tests/integration/chaos).")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the scenarios and what they need; run none.")
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="The private stacks' folder, emptied first (default: state/iotpipe/chaos-stack)."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option(help="Folder for latest.json and latest.md (the table).")
    ] = (REPO_DIR / "results" / "chaos"),
) -> None:
    """Faults while readings stream at half of the pipeline's measured peak: the sink,
    Kafka, the database and the registry killed or stopped, poison records, a group
    member killed (one broker); a partition leader killed, a rolling restart, a hung
    broker, sink replicas churned and two brokers down (three brokers, replication 3); a
    new schema version rolled out across ingest and sink replicas, in both orders.
    Exit 1 unless every acknowledged reading is stored exactly once in every scenario."""
    from iotpipe.chaos.run import run_chaos  # noqa: PLC0415 - loads the suite only here
    from iotpipe.chaos.scenarios import SCENARIOS, Plan  # noqa: PLC0415
    from iotpipe.chaos.stack import default_chaos_state_dir  # noqa: PLC0415

    names = scenario or [n for n, s in SCENARIOS.items() if s.ci or not ci]
    if list_:
        console = make_console()
        for name, spec in SCENARIOS.items():
            where = "CI and full" if spec.ci else "full only"
            ingest = f"{spec.ingest_replicas} ingest, " if spec.ingest_replicas > 1 else ""
            console.print(
                f"[bold]{name}[/] ({spec.brokers} broker{'s' if spec.brokers > 1 else ''}, "
                f"{ingest}{spec.sinks} sink{'s' if spec.sinks > 1 else ''}; {where}): "
                f"{spec.summary}",
                highlight=False,
            )
        return
    results = run_chaos(
        Plan(short=short),
        names=names,
        state_dir=state_dir or default_chaos_state_dir(),
        output=output,
        console=make_console(stderr=True),
    )
    raise typer.Exit(0 if all(r.passed for r in results) else 1)
