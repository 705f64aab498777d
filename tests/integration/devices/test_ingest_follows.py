"""The real ingest app (``build_app``) knows the registry before it serves, learns of new
boxes while it runs, and stops following when it shuts down."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.devices.follower import RegistryFollower
from iotpipe.devices.kafka import publish_boxes
from tests.integration.devices.world import eventually
from tests.unit.devices.registry_fakes import BOX_ID, TOKEN, box

OTHER_ID = "5a1100000000000000d10000"


def followers() -> int:
    return sum(t.name == "registry-follower" and t.is_alive() for t in threading.enumerate())


def test_ingest_follows_the_registry_for_its_whole_life(
    endpoints: dict[str, str], registry_topic: str, tmp_path: Path
) -> None:
    kafka = endpoints["kafka"]
    publish_boxes(kafka, [box()], topic=registry_topic)
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka,
        registry_url=endpoints["registry"],
        topic=f"{registry_topic}-readings",  # nothing is produced here
        keys_file=tmp_path / "keys.json",
        devices_topic=registry_topic,
        devices_wait_seconds=15,
    )
    before = followers()
    app = build_app(settings)
    boxes = app.state.boxes
    assert isinstance(boxes, RegistryFollower)
    assert boxes.topic == registry_topic
    known = boxes.get(BOX_ID)  # read before the first request could arrive
    assert known is not None
    assert known.token_matches(TOKEN)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        publish_boxes(kafka, [box(OTHER_ID, name="late")], topic=registry_topic)
        assert eventually(lambda: boxes.get(OTHER_ID) is not None, timeout=5) is not None
        assert followers() == before + 1
    assert eventually(lambda: followers() == before, timeout=10) is not None
