"""Other languages' clients against the real local stack: the stack fixtures of the
integration tests, and each language's programs built once per session (a language
whose toolchain is missing skips its tests, saying so)."""

from __future__ import annotations

import pytest

from iotpipe.interop import Program, node_program
from iotpipe.interop import go_consumer as go_consumer_program
from tests.integration.conftest import endpoints, module_scratch, scratch, stack_status
from tests.integration.sink.conftest import partitions, sink_world
from tests.interop.builds import as_test

__all__ = [
    "endpoints",
    "go_consumer",
    "module_scratch",
    "node_consumer",
    "node_producer",
    "partitions",
    "scratch",
    "sink_world",
    "stack_status",
]

NODE_SKIPPED = "Node interop tests skipped: "


@pytest.fixture(scope="session")
def node_consumer() -> Program:
    return as_test(lambda: node_program("consume.mjs"), skipped=NODE_SKIPPED)


@pytest.fixture(scope="session")
def node_producer() -> Program:
    return as_test(lambda: node_program("produce.mjs"), skipped=NODE_SKIPPED)


@pytest.fixture(scope="session")
def go_consumer() -> Program:
    return as_test(go_consumer_program, skipped="Go interop tests skipped: ")
