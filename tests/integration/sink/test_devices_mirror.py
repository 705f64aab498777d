"""A real ``iotpipe sink`` mirrors the device registry into the collection ``devices``:
boxes with names and sensors but no token material, updates, removals, and boxes that
left the registry while the sink was down."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from iotpipe.devices.boxes import hash_token
from iotpipe.devices.kafka import publish_boxes, remove_box
from sink.devices import COLLECTION
from tests.integration.devices.world import COMPACTED, eventually, make_topic
from tests.integration.sink.conftest import SinkWorld
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID, TOKEN, box

pytestmark = [pytest.mark.timeout(180)]
OTHER_ID = "5a1100000000000000d10000"
STALE_ID = "5a1100000000000000d20000"


@pytest.fixture
def registry(sink_world: SinkWorld) -> str:
    name = f"{sink_world.topic}-devices"  # the world's topic family: removed with it
    make_topic(sink_world.endpoints["kafka"], name, COMPACTED)
    sink_world.env["IOTPIPE_SINK_DEVICES_TOPIC"] = name
    return name


def documents(world: SinkWorld) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d for d in world.mongo[world.database][COLLECTION].find()}


def test_the_sink_mirrors_the_registry_without_tokens(sink_world: SinkWorld, registry: str) -> None:
    kafka = sink_world.endpoints["kafka"]
    publish_boxes(kafka, [box(), box(OTHER_ID, name="Garten")], topic=registry)
    # A box removed while the sink was down (its tombstone may be compacted away).
    sink_world.mongo[sink_world.database][COLLECTION].insert_one({"_id": STALE_ID, "name": "old"})

    sink = sink_world.start_sink()
    assert eventually(lambda: set(documents(sink_world)) == {BOX_ID, OTHER_ID}, 60) is not None
    stored = documents(sink_world)[BOX_ID]
    assert stored["name"] == "Oststr"
    assert stored["useAuth"] is True
    assert stored["sensors"] == [
        {"_id": SENSOR_ID, "title": "Temperatur", "unit": "°C", "sensorType": "HDC1008"}
    ]
    assert stored["location"] == {"type": "Point", "coordinates": [7.64568, 51.962372]}
    assert stored["updated_at"] is not None
    everything = json.dumps(list(documents(sink_world).values()), default=str)
    assert TOKEN not in everything
    assert hash_token(TOKEN) not in everything
    assert "token" not in everything

    publish_boxes(kafka, [box(name="Oststr (moved)")], topic=registry)
    renamed = lambda: documents(sink_world).get(BOX_ID, {}).get("name") == "Oststr (moved)"  # noqa: E731
    assert eventually(renamed, 30) is not None
    remove_box(kafka, OTHER_ID, topic=registry)
    assert eventually(lambda: OTHER_ID not in documents(sink_world), 30) is not None

    sink.send_signal(signal.SIGTERM)
    assert sink.wait(30) == 0
