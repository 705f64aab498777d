"""The sink's registry mirror over an in-memory topic and store: no token ever stored,
tombstones delete, database trouble retried, boxes gone while the sink was down removed,
device states put on the devices' status documents."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from iotpipe.devices.boxes import hash_token
from iotpipe.devices.states import DeviceState, StateRecord
from iotpipe.devices.topic import encode_removal, encode_state
from sink.devices import DeviceMirror, device_document, registry_update, state_update
from sink.documents import Status
from sink.store import StoreUnavailable
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID, TOKEN, FakeConsumer, box

TOPIC = "iotpipe.devices"
OTHER_ID = "5a1100000000000000d10000"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


class FakeDevices:
    """The devices collection; ``failures`` writes fail before the next one succeeds."""

    def __init__(self, documents: dict[str, dict[str, Any]] | None = None) -> None:
        self.documents = dict(documents or {})
        self.states: dict[str, StateRecord] = {}
        self.failures = 0
        self.attempts = 0
        self.closed = False

    def _maybe_fail(self) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("no primary")

    def upsert(self, document: dict[str, Any]) -> None:
        self._maybe_fail()
        self.documents[document["_id"]] = document

    def delete(self, box_id: str) -> None:
        self._maybe_fail()
        self.documents.pop(box_id, None)

    def keep_only(self, box_ids: Collection[str]) -> int:
        self._maybe_fail()
        gone = [k for k in self.documents if k not in box_ids]
        for key in gone:
            del self.documents[key]
        return len(gone)

    def set_state(self, record: StateRecord) -> None:
        self._maybe_fail()
        self.states[record.device_id] = record

    def close(self) -> None:
        self.closed = True


def mirror_of(consumer: FakeConsumer, store: FakeDevices) -> DeviceMirror:
    return DeviceMirror(
        consumer, store, topic=TOPIC, retry_initial_seconds=0.001, retry_max_seconds=0.002
    )


def run_until_caught_up(mirror: DeviceMirror, turns: int = 50) -> None:
    for _ in range(turns):
        mirror.step(0)
    assert mirror.reader.caught_up.is_set()


def test_the_document_is_what_dashboards_show_and_holds_no_token() -> None:
    when = datetime(2026, 11, 29, 4, 30, tzinfo=UTC)
    document = device_document(box(), when)
    assert document == {
        "_id": BOX_ID,
        "name": "Oststr",
        "model": "homeV2Wifi",
        "exposure": "outdoor",
        "useAuth": True,
        "sensors": [
            {"_id": SENSOR_ID, "title": "Temperatur", "unit": "°C", "sensorType": "HDC1008"}
        ],
        "location": {"type": "Point", "coordinates": [7.64568, 51.962372]},
        "updated_at": when,
    }
    text = json.dumps(document, default=str)
    assert TOKEN not in text
    assert hash_token(TOKEN) not in text
    assert "token" not in text


def test_records_upsert_replace_and_tombstones_delete() -> None:
    consumer, store = FakeConsumer(TOPIC), FakeDevices()
    consumer.put(box(name="first"))
    consumer.put(box(OTHER_ID, name="other"))
    consumer.put(box(name="second"))
    consumer.append(*encode_removal(OTHER_ID))
    mirror = mirror_of(consumer, store)
    run_until_caught_up(mirror)
    assert list(store.documents) == [BOX_ID]
    stored = store.documents[BOX_ID]
    assert stored["name"] == "second"
    assert stored["updated_at"] == datetime.fromtimestamp(1_764_000_000, UTC)
    mirror.close()
    assert (consumer.closed, store.closed) == (True, True)


def test_database_trouble_is_retried_until_the_write_succeeds() -> None:
    consumer, store = FakeConsumer(TOPIC), FakeDevices()
    consumer.put(box())
    store.failures = 3
    mirror = mirror_of(consumer, store)
    run_until_caught_up(mirror)
    assert store.documents[BOX_ID]["name"] == "Oststr"
    assert store.attempts >= 4


def test_boxes_no_longer_in_the_registry_are_deleted_once_caught_up() -> None:
    stale = device_document(box(OTHER_ID, name="removed while the sink was down"))
    kept = device_document(box(name="old name"))
    store = FakeDevices({OTHER_ID: stale, BOX_ID: kept})
    consumer = FakeConsumer(TOPIC)
    consumer.put(box(name="current"))
    run_until_caught_up(mirror_of(consumer, store))
    assert list(store.documents) == [BOX_ID]
    assert store.documents[BOX_ID]["name"] == "current"


def test_a_missing_topic_deletes_nothing() -> None:
    kept = device_document(box())
    store = FakeDevices({BOX_ID: kept})
    consumer = FakeConsumer(TOPIC)
    consumer.exists = False
    run_until_caught_up(mirror_of(consumer, store))
    assert store.documents == {BOX_ID: kept}


def test_states_reach_the_store_and_leave_the_boxes_alone() -> None:
    consumer, store = FakeConsumer(TOPIC), FakeDevices()
    consumer.put(box())
    consumer.append(*encode_state("dev-1", DeviceState.RETIRED, "gone"))
    consumer.append(*encode_state(BOX_ID, DeviceState.PAUSED))
    consumer.append(*encode_state(BOX_ID, DeviceState.ACTIVE))
    store.failures = 2  # retried like any write
    run_until_caught_up(mirror_of(consumer, store))
    assert list(store.documents) == [BOX_ID]  # a state is no box, and keeps no box away
    assert {d: (r.state, r.reason) for d, r in store.states.items()} == {
        "dev-1": (DeviceState.RETIRED, "gone"),
        BOX_ID: (DeviceState.ACTIVE, ""),
    }
    assert store.states["dev-1"].changed_at == datetime.fromtimestamp(1_764_000_000, UTC)


def test_a_state_update_creates_a_status_document_only_to_silence_a_device() -> None:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    status_id, update, upsert = state_update(StateRecord("dev-1", DeviceState.PAUSED, "x", when))
    # The document the sink's status writer keeps for the device: readings merge into it.
    status = Status("device", "dev-1", None, when, when, when)
    assert (status_id, upsert) == (status.id, True)
    assert update == {
        "$set": {"state": "paused", "state_reason": "x", "state_changed_at": when},
        "$setOnInsert": status.as_update()["$setOnInsert"],
    }
    status_id, update, upsert = state_update(StateRecord("dev-1", DeviceState.ACTIVE))
    assert upsert is False
    assert update == {"$set": {"state": "active", "state_reason": "", "state_changed_at": None}}


def test_a_registered_device_status_carries_its_name_and_location() -> None:
    located = device_document(box(name="Oststr"))
    update = registry_update(BOX_ID, located)
    assert update["$set"] == {
        "name": "Oststr",
        "text": "Oststr",
        "registered": True,
        "location": "51.96237, 7.64568",
        "latitude": 51.962372,
        "longitude": 7.64568,
    }
    # Upserted with the identity the status writer gives, less what $set already sets.
    identity = Status("device", BOX_ID, None, NOW, NOW, NOW).as_update()["$setOnInsert"]
    assert update["$setOnInsert"] == {"scope": "device", "device_id": BOX_ID, "value": BOX_ID}
    assert set(update["$setOnInsert"]) | set(update["$set"]) == set(identity) | {
        "latitude",
        "longitude",
    }
    assert "$unset" not in update

    nowhere = registry_update(BOX_ID, device_document(box(currentLocation=None)))
    assert nowhere["$set"]["location"] == ""
    assert nowhere["$unset"] == {"latitude": "", "longitude": ""}


def test_a_removed_device_is_named_by_its_id_again() -> None:
    assert registry_update(BOX_ID, None) == {
        "$set": {"name": BOX_ID, "text": BOX_ID, "location": "", "registered": False},
        "$unset": {"latitude": "", "longitude": ""},
    }
