"""Private stacks for the fault-injection tests: they stop Kafka, the registry and the
database, so they never run against the shared one that other tests use. One broker for
the single-node scenarios, three for the cluster's; each module brings up its own and
takes it down at its end, so the two never run side by side on the small machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from iotpipe.chaos.report import table
from iotpipe.chaos.run import run_scenario
from iotpipe.chaos.scenarios import Plan
from iotpipe.chaos.stack import private_stack
from iotpipe.stack.manager import Stack


def _stack(brokers: int, tmp: pytest.TempPathFactory, config: pytest.Config) -> Iterator[Stack]:
    stack = private_stack(
        tmp.mktemp("chaos") / "stack", brokers=brokers, console=Console(stderr=True)
    )
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        stack.up()
    yield stack
    stack.down(wipe=True)


@pytest.fixture(scope="module")
def chaos_stack(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Stack]:
    yield from _stack(1, tmp_path_factory, pytestconfig)


@pytest.fixture(scope="module")
def chaos_cluster(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Stack]:
    yield from _stack(3, tmp_path_factory, pytestconfig)


def run_and_check(stack: Stack, name: str, workdir: Path) -> None:
    """The short form of one scenario; every acknowledged reading stored exactly once,
    every invalid one rejected, and the scenario's own checks held."""
    console = Console(stderr=True, width=200)
    result = run_scenario(stack, name, Plan(short=True), workdir, console=console)
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
