"""The chaos table: one row per scenario, the counts the issue asks for and a verdict."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from iotpipe.chaos.verdict import ScenarioResult

__all__ = ["table"]


def table(results: Sequence[ScenarioResult]) -> Table:
    out = Table(
        title="chaos: every acknowledged reading stored exactly once?", title_justify="left"
    )
    for column in ("scenario", "sent", "acknowledged", "stored", "duplicates", "lost"):
        out.add_column(column, justify="left" if column == "scenario" else "right")
    out.add_column("rejected reported", justify="right")
    out.add_column("verdict")
    out.add_column("checks")
    for r in results:
        failed = [name for name, held in r.checks.items() if not held]
        out.add_row(
            r.scenario,
            str(r.sent),
            str(r.acknowledged),
            str(r.stored),
            _red_unless_zero(r.duplicates),
            _red_unless_zero(r.lost),
            f"{r.rejected_reported}/{r.rejected_expected}",
            "[green]pass[/]" if r.passed else "[red]FAIL[/]",
            "; ".join(
                [f"[red]failed: {name}[/]" for name in failed]
                + [f"{len(r.checks) - len(failed)} checks held", *r.notes]
                + ([f"{r.failed_unresolved} never acknowledged"] if r.failed_unresolved else [])
                + [f"{r.seconds:.0f} s"]
            ),
        )
    return out


def _red_unless_zero(value: int) -> str:
    return str(value) if value == 0 else f"[red]{value}[/]"
