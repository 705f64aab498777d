"""The chaos table: one row per scenario, the accounting the issue asks for and a verdict;
and the same rows as Markdown for the reliability page (docs/reliability.md). A rollout
scenario adds a table of its own, one row per schema version."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from iotpipe.chaos.verdict import ScenarioResult

__all__ = ["COLUMNS", "VERSION_COLUMNS", "markdown", "row", "table", "versions_table"]

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


# A rollout's per-version row: key -> header ("field" is the new field's name).
VERSION_COLUMNS = {
    "version": "version",
    "writer_schema_id": "writer schema id",
    "acknowledged": "acknowledged",
    "in_topic": "in topic",
    "stored": "stored",
    "lost": "lost",
    "duplicated": "duplicated",
    "other_writer": "other writer id",
    "field_sent": "{field} sent",
    "field_as_sent": "stored as sent",
    "field_where_not_sent": "stored where not sent",
}


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


def _version_cells(r: ScenarioResult) -> tuple[list[str], list[list[str]]]:
    """A rollout's per-version headers and rows (none for other scenarios)."""
    if not r.versions:
        return [], []
    field = str(r.versions[0].get("field", "field"))
    headers = [h.format(field=field) for h in VERSION_COLUMNS.values()]
    rows = [
        [f"{v[k]:,}" if isinstance(v[k], int) and k != "writer_schema_id" else str(v[k])
         for k in VERSION_COLUMNS]
        for v in r.versions
    ]  # fmt: skip
    return headers, rows


def versions_table(r: ScenarioResult) -> Table | None:
    """A rollout's accounting per schema version (None for other scenarios)."""
    headers, rows = _version_cells(r)
    if not rows:
        return None
    out = Table(title=f"{r.scenario}: per schema version", title_justify="left")
    for header in headers:
        out.add_column(header, justify="left" if header == "version" else "right")
    for cells in rows:
        out.add_row(*cells)
    return out


def markdown(results: Sequence[ScenarioResult]) -> str:
    """A Markdown table of the same figures (and the checks' remarks), then each
    rollout's table per schema version."""
    lines = [
        "| " + " | ".join([*COLUMNS, "checks"]) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1) + ["---"]) + "|",
    ]
    lines += ["| " + " | ".join([*row(r), _remarks(r)]) + " |" for r in results]
    for r in results:
        headers, rows = _version_cells(r)
        if rows:
            lines += ["", f"{r.scenario}, per schema version:", ""]
            lines += ["| " + " | ".join(headers) + " |"]
            lines += ["|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
            lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def _red_unless_zero(value: int) -> str:
    return f"{value:,}" if value == 0 else f"[red]{value:,}[/]"
