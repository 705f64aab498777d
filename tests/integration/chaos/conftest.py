"""A private stack for the fault-injection tests: they stop Kafka, the registry and the
database, so they never run against the shared one that other tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from iotpipe.chaos.stack import private_stack
from iotpipe.stack.manager import Stack


@pytest.fixture(scope="module")
def chaos_stack(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Stack]:
    stack = private_stack(tmp_path_factory.mktemp("chaos") / "stack", console=Console(stderr=True))
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        stack.up()
    yield stack
    stack.down(wipe=True)
