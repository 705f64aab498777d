from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.paths import REPO_DIR

DEVICE = "sensebox-5f2b6c9e"


def reading(**changes: Any) -> dict[str, Any]:
    path = REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json"
    data: dict[str, Any] = json.loads(path.read_text())
    data.pop("event_id")
    data["event_time"] = datetime.now(UTC).isoformat()
    data.update(changes)
    return data


def device_event(**changes: Any) -> dict[str, Any]:
    path = REPO_DIR / "generated/examples/dev.iotpipe.DeviceEvent.json"
    data: dict[str, Any] = json.loads(path.read_text())
    data["event_time"] = datetime.now(UTC).isoformat()
    data.update(changes)
    return data


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys.json")


@pytest.fixture
def device_key(keys: KeyStore) -> str:
    return keys.create(DEVICE)[1]


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(max_body_bytes=64 * 1024, max_batch_records=10)


@pytest.fixture
def client(
    settings: IngestSettings, publisher: MemoryPublisher, keys: KeyStore, device_key: str
) -> Iterator[TestClient]:
    app = create_app(settings=settings, publisher=publisher, keys=keys)
    with TestClient(app, headers={"Authorization": f"Bearer {device_key}"}) as test_client:
        yield test_client
