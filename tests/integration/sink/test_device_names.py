"""The registry mirror names devices on their status documents, on FerretDB: a box
upserts its device's name and location (before or after its first reading), a tombstone
and a box gone while the sink was down give the device its id back, and documents
written before names were kept are named by their id once the mirror has caught up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient

from sink.devices import MongoDevices, device_document
from sink.documents import DEVICE_STATUS, Status
from tests.scratch import Scratch
from tests.unit.devices.registry_fakes import BOX_ID, box

OTHER = "5a1100000000000000d10000"
NAMING = {"_id": 0, "name": 1, "text": 1, "location": 1, "latitude": 1, "longitude": 1}


def test_status_documents_carry_registered_names_and_fall_back_to_ids(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    database = scratch.database("it_names")
    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"], tz_aware=True)
    status = client[database][DEVICE_STATUS]
    store = MongoDevices(client, database)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        # A reading first (named by its id), then the registry's entry.
        seen = Status("device", BOX_ID, None, when, when, when)
        status.update_one({"_id": seen.id}, seen.as_update(), upsert=True)
        assert status.find_one({"_id": seen.id}, NAMING) == {
            "name": BOX_ID,
            "text": BOX_ID,
            "location": "",
        }
        store.upsert(device_document(box(name="Oststr")))
        named = status.find_one({"_id": seen.id})
        assert named is not None
        assert (named["name"], named["text"], named["location"]) == (
            "Oststr",
            "Oststr",
            "51.96237, 7.64568",
        )
        assert (named["latitude"], named["longitude"]) == (51.962372, 7.64568)
        assert named["last_seen"] == when  # the reading's fields are kept

        # A box registered before any reading: a document to show it, never silent.
        store.upsert(device_document(box(OTHER, name="Hafen")))
        fresh = status.find_one({"_id": f"device|{OTHER}"})
        assert fresh is not None and fresh["name"] == "Hafen" and "last_seen" not in fresh
        assert (fresh["scope"], fresh["device_id"], fresh["value"]) == ("device", OTHER, OTHER)

        # Removed: the id again, no coordinates (not on the map).
        store.delete(BOX_ID)
        assert status.find_one({"_id": seen.id}, NAMING) == {
            "name": BOX_ID,
            "text": BOX_ID,
            "location": "",
        }

        # A document from before names (no ``registered``) and a box gone while the sink
        # was down: both named by their ids once the mirror has caught up.
        status.insert_one({"_id": "device|old", "scope": "device", "device_id": "old"})
        assert store.keep_only([]) == 1  # OTHER's devices document
        for device in ("old", OTHER):
            assert status.find_one({"_id": f"device|{device}"}, NAMING) == {
                "name": device,
                "text": device,
                "location": "",
            }
    finally:
        client.close()
