"""The ingest app with the conformance boxes (token :data:`vectors.ACCESS_TOKEN`) and an
in-memory publisher: the openSenseMap routes end to end, without Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.devices.boxes import InMemoryBoxes
from tests.unit.opensensemap import vectors


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def osem_settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(keys_file=tmp_path / "keys.json", max_body_bytes=256 * 1024)


@pytest.fixture
def osem(osem_settings: IngestSettings, publisher: MemoryPublisher) -> Iterator[TestClient]:
    """A client without any iotpipe API key: these routes take box tokens only."""
    boxes = InMemoryBoxes(vectors.boxes().values())
    app = create_app(settings=osem_settings, publisher=publisher, boxes=boxes)
    with TestClient(app) as client:
        yield client
