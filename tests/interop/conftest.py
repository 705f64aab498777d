"""Other languages' clients against the real local stack: the stack fixtures of the
integration tests, and each language's programs built once per session (a language
whose toolchain is missing skips its tests, saying so)."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.conftest import endpoints, stack_status
from tests.integration.sink.conftest import partitions, sink_world
from tests.interop.clients import Program, ToolMissing, build_go, install_node

__all__ = [
    "endpoints",
    "go_consumer",
    "node_consumer",
    "node_producer",
    "partitions",
    "sink_world",
    "stack_status",
]


@pytest.fixture(scope="session")
def node_folder() -> str:
    try:
        return str(install_node())
    except ToolMissing as exc:
        pytest.skip(f"Node interop tests skipped: {exc}")


@pytest.fixture(scope="session")
def node_consumer(node_folder: str) -> Program:
    return Program("node", (_node(), f"{node_folder}/consume.mjs"), "--")


@pytest.fixture(scope="session")
def node_producer(node_folder: str) -> Program:
    return Program("node", (_node(), f"{node_folder}/produce.mjs"), "--")


@pytest.fixture(scope="session")
def go_consumer() -> Program:
    try:
        return Program("go", (str(build_go()),), "-")
    except ToolMissing as exc:
        pytest.skip(f"Go interop tests skipped: {exc}")


def _node() -> str:
    return shutil.which("node") or "node"
