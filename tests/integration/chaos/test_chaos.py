"""The fault-injection suite's one-broker scenarios in their short form (``iotpipe chaos
--short``): each fault while readings stream at half of the pipeline's measured peak
through the real ingest and sink processes, then every reading counted by event_id."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotpipe.chaos.scenarios import SCENARIOS
from iotpipe.stack.manager import Stack
from tests.integration.chaos.conftest import run_and_check

pytestmark = pytest.mark.slow


@pytest.mark.timeout(480)
@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if s.ci and s.brokers == 1])
def test_nothing_acknowledged_is_lost_or_doubled(
    name: str, chaos_stack: Stack, tmp_path: Path
) -> None:
    run_and_check(chaos_stack, name, tmp_path)
