"""The chaos table: one row per scenario, the accounting the issue asks for and a verdict;
and the same rows as Markdown for the reliability page (docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from iotpipe.chaos.verdict import ScenarioResult

__all__ = ["COLUMNS", "markdown", "row", "table"]

COLUMNS = (
    "scenario",
    "brokers",
    "offered/s (peak)",
    "sent",
    "acknowledged",
    "stored",
    "lost",
    "duplicated",
    "rejected",
    "error rate",
    "longest 503s",
    "recovered",
    "lag back",
    "verdict",
)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def row(r: ScenarioResult) -> list[str]:
    """The figures of one scenario, as the table and the page show them."""
    peak = r.peak.get("readings_per_s")
    return [
        r.scenario,
        str(r.brokers),
        f"{r.offered_per_s:,.0f} ({peak:,.0f})" if peak else "-",
        f"{r.sent:,}",
        f"{r.acknowledged:,}",
        f"{r.stored:,}",
        f"{r.lost:,}",
        f"{r.duplicates:,}",
        f"{r.rejected_reported:,}/{r.rejected_expected:,}",
        f"{r.error_rate:.2%}",
        f"{r.longest_503_s:.1f} s",
        _seconds(r.recover_s) if r.peak else "-",
        _seconds(r.lag_recover_s) if r.peak else "-",
        "pass" if r.passed else "FAIL",
    ]


def _remarks(r: ScenarioResult) -> str:
    failed = [name for name, held in r.checks.items() if not held]
    return "; ".join(
        [f"failed: {name}" for name in failed]
        + [f"{len(r.checks) - len(failed)} checks held", *r.notes]
        + ([f"{r.failed_unresolved} never acknowledged"] if r.failed_unresolved else [])
        + [f"{r.seconds:.0f} s"]
    )


def table(results: Sequence[ScenarioResult]) -> Table:
    out = Table(
        title="chaos: every acknowledged reading stored exactly once?", title_justify="left"
    )
    for column in COLUMNS:
        out.add_column(column, justify="left" if column == "scenario" else "right")
    out.add_column("checks")
    for r in results:
        cells = row(r)
        cells[6], cells[7] = _red_unless_zero(r.lost), _red_unless_zero(r.duplicates)
        cells[-1] = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        failed = [name for name, held in r.checks.items() if not held]
        remarks = _remarks(r)
        out.add_row(*cells, f"[red]{remarks}[/]" if failed else remarks)
    return out


def markdown(results: Sequence[ScenarioResult]) -> str:
    """A Markdown table of the same figures (and the checks' remarks)."""
    lines = [
        "| " + " | ".join([*COLUMNS, "checks"]) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1) + ["---"]) + "|",
    ]
    lines += ["| " + " | ".join([*row(r), _remarks(r)]) + " |" for r in results]
    return "\n".join(lines) + "\n"


def _red_unless_zero(value: int) -> str:
    return f"{value:,}" if value == 0 else f"[red]{value:,}[/]"
