"""Integration tests run against the real local stack: reused if it is up, else started.

The stack is the one ``iotpipe stack up`` uses (same state folder and ports, from the
``IOTPIPE_*`` environment), so a developer's running stack makes the suite fast. What
this session started, it stops at the end (``IOTPIPE_KEEP_STACK=1`` keeps it running).
What a test makes on the stack (topics, subjects, databases) comes from ``scratch`` or
``module_scratch`` and is removed after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from rich.console import Console

from iotpipe.stack.manager import Stack, StackStatus
from iotpipe.stack.settings import StackSettings
from tests.scratch import Scratch


@pytest.fixture(scope="session")
def stack_status(pytestconfig: pytest.Config) -> Iterator[StackStatus]:
    stack = Stack(StackSettings(), console=Console(stderr=True))
    before = stack.status()
    to_start = [s.name for s in before.services if not s.running]
    if not before.healthy:
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        # Show build/download progress live: the first run on a machine takes minutes.
        with capture.global_and_fixture_disabled():
            status = stack.up()
    else:
        status = before
    yield status
    if to_start and os.environ.get("IOTPIPE_KEEP_STACK") != "1":
        stack.down(to_start)


@pytest.fixture(scope="session")
def endpoints(stack_status: StackStatus) -> dict[str, str]:
    return stack_status.endpoints()


@pytest.fixture
def scratch(endpoints: dict[str, str]) -> Iterator[Scratch]:
    """The test's topics, subjects and databases, removed after it (tests.scratch)."""
    made = Scratch(endpoints)
    yield made
    made.close()


@pytest.fixture(scope="module")
def module_scratch(endpoints: dict[str, str]) -> Iterator[Scratch]:
    """The same for module-scoped fixtures: removed after the module's last test."""
    made = Scratch(endpoints)
    yield made
    made.close()
