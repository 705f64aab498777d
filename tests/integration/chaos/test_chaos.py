"""The fault-injection suite in its short form (``iotpipe chaos --short``): each fault
while readings stream through the real ingest and sink processes, then every reading
counted in the database by event_id."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from iotpipe.chaos.report import table
from iotpipe.chaos.run import run_scenario
from iotpipe.chaos.scenarios import SCENARIOS, Plan
from iotpipe.stack.manager import Stack

pytestmark = pytest.mark.slow


@pytest.mark.timeout(480)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_nothing_acknowledged_is_lost_or_doubled(
    name: str, chaos_stack: Stack, tmp_path: Path
) -> None:
    console = Console(stderr=True, width=180)
    result = run_scenario(chaos_stack, name, Plan(short=True), tmp_path, console=console)
    console.print(table([result]))
    assert result.acknowledged > 0, "the driver never got a reading through"
    assert result.lost == 0, f"{result.lost} acknowledged readings are not stored"
    assert result.duplicates == 0, f"{result.duplicates} duplicate or unexpected documents"
    assert result.rejected_reported == result.rejected_expected, (
        f"only {result.rejected_reported} of {result.rejected_expected} invalid readings "
        "were answered as rejected"
    )
    failed = [check for check, held in result.checks.items() if not held]
    assert not failed, f"checks failed: {failed}; notes: {result.notes}"
