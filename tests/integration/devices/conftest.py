"""A device registry topic of each test's own (compacted, as ``topics ensure`` makes it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.integration.devices.world import COMPACTED, drop_topics, make_topic
from tests.support import run_cli


@pytest.fixture
def kafka(endpoints: dict[str, str]) -> str:
    return endpoints["kafka"]


@pytest.fixture
def registry_topic(kafka: str) -> Iterator[str]:
    name = f"it-devices-{uuid.uuid4().hex[:10]}"
    make_topic(kafka, name, COMPACTED)
    yield name
    drop_topics(kafka, [name])


@pytest.fixture
def devices_cli(kafka: str) -> Callable[..., tuple[int, str, str]]:
    """``iotpipe devices ARGS`` as a user runs it: exit code, stdout, stderr (one line)."""

    def run(*args: str) -> tuple[int, str, str]:
        env = {**os.environ, "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": kafka, "COLUMNS": "250"}
        result = run_cli("devices", *args, env=env, timeout=90)
        return result.returncode, result.stdout, " ".join(result.stderr.split())

    return run
