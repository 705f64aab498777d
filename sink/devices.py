"""The device registry mirrored into MongoDB (collection ``devices``), for Grafana.

The registry itself is the compacted topic ``iotpipe.devices``; ingest follows it in
memory. Dashboards need box and sensor names next to the readings, so the sink keeps a
copy: one document per box (``_id`` = box id; name, model, exposure, useAuth, sensors,
location, updated_at), replaced whole on every record and deleted on a tombstone. Every
write is keyed by the box id, so replaying the topic (each start reads it from the
beginning) changes nothing, and several sink processes may mirror side by side. No token
material is ever stored: a dashboard database is not where credentials belong.

Once caught up, documents of boxes the topic no longer holds are deleted: a tombstone
may have been compacted away while the sink was down. The mirror runs on its own thread
and consumer; database and broker trouble is retried with backoff, never fatal.

Each box's name and location also go onto its device's document in ``device_status``
(``name``, ``text``, ``location`` as "lat, lon", ``latitude``, ``longitude``,
``registered``), where dashboards and alert rules read them; a device the registry does
not know (or no longer knows) keeps its id as its name (:func:`registry_update`).

Device states (paused, retired; :mod:`iotpipe.devices.states`) go onto the device's
document in ``device_status`` (``state``, ``state_reason``, ``state_changed_at``), where
the silent alert and the fleet dashboard read them (FerretDB has no ``$lookup`` to join
another collection). A device paused or retired before its first reading gets a document
with no ``last_seen``: never silent, and the readings that come later merge into it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from iotpipe.devices.boxes import Box
from iotpipe.devices.reader import RegistryConsumer, RegistryReader
from iotpipe.devices.states import DeviceState, StateRecord
from iotpipe.devices.topic import RegistryRecord
from sink.documents import DEVICE_STATUS, device_identity, device_status_id, unregistered
from sink.settings import SinkSettings
from sink.store import StoreUnavailable

__all__ = [
    "COLLECTION",
    "DeviceMirror",
    "DeviceStore",
    "MongoDevices",
    "device_document",
    "registry_update",
    "start_devices_mirror",
    "state_update",
]

COLLECTION = "devices"
log = logging.getLogger("iotpipe.sink.devices")
T = TypeVar("T")


def device_document(box: Box, updated_at: datetime | None = None) -> dict[str, Any]:
    """The stored form of a box: what dashboards show, never its token (nor its hash)."""
    location = None
    if box.location is not None:
        lng, lat, height = box.location
        coordinates = [lng, lat] if height is None else [lng, lat, height]
        location = {"type": "Point", "coordinates": coordinates}
    return {
        "_id": box.id,
        "name": box.name,
        "model": box.model,
        "exposure": box.exposure,
        "useAuth": box.use_auth,
        "sensors": [
            {"_id": s.id, "title": s.title, "unit": s.unit, "sensorType": s.sensor_type}
            for s in box.sensors
        ],
        "location": location,
        "updated_at": updated_at,
    }


# Registered names and locations on a device's status document; unset when it is not.
_COORDINATES = ("latitude", "longitude")


def registry_update(box_id: str, document: dict[str, Any] | None) -> dict[str, Any]:
    """The update of a device's status document for its registry entry (``document``:
    :func:`device_document`, None once the box is removed). A registered device is
    upserted (its readings, arriving later, merge into it; one that never reports has no
    ``last_seen`` and is never silent), a removed one gets its id back as its name."""
    if document is None:
        return {"$set": unregistered(box_id), "$unset": dict.fromkeys(_COORDINATES, "")}
    name = str(document["name"])
    fields: dict[str, Any] = {"name": name, "text": name, "registered": True}
    point = document.get("location")
    unset: dict[str, Any] = {}
    if point is None:
        fields["location"] = ""
        unset = dict.fromkeys(_COORDINATES, "")
    else:
        longitude, latitude = point["coordinates"][:2]
        fields.update(
            location=f"{latitude:.5f}, {longitude:.5f}", latitude=latitude, longitude=longitude
        )
    identity = {k: v for k, v in device_identity(box_id).items() if k not in fields}
    update: dict[str, Any] = {"$set": fields, "$setOnInsert": identity}
    return {**update, "$unset": unset} if unset else update


class DeviceStore(Protocol):
    """Where the mirror writes (real adapter: MongoDevices; a fake in unit tests).
    Each call raises StoreUnavailable when the database did not take it."""

    def upsert(self, document: dict[str, Any]) -> None: ...

    def delete(self, box_id: str) -> None: ...

    def keep_only(self, box_ids: Collection[str]) -> int:
        """Delete every box not in ``box_ids``; how many were deleted."""
        ...

    def set_state(self, record: StateRecord) -> None:
        """Put a device's state on its device_status document."""
        ...

    def close(self) -> None: ...


def state_update(record: StateRecord) -> tuple[str, dict[str, Any], bool]:
    """The device_status document's id, the update and whether to upsert: a paused or
    retired device gets a document even before its first reading (identity as the sink's
    status writer sets it, ``sink.documents.Status``); activating one that has none
    creates nothing."""
    fields = {
        "state": record.state.value,
        "state_reason": record.reason,
        "state_changed_at": record.changed_at,
    }
    device = record.device_id
    if record.state is DeviceState.ACTIVE:
        return device_status_id(device), {"$set": fields}, False
    return device_status_id(device), {"$set": fields, "$setOnInsert": device_identity(device)}, True


class MongoDevices:
    def __init__(self, client: MongoClient[dict[str, Any]], database: str) -> None:
        self._client = client
        self._devices = client[database][COLLECTION]
        self._status = client[database][DEVICE_STATUS]

    @classmethod
    def connect(cls, uri: str, database: str) -> MongoDevices:
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000
        )
        return cls(client, database)

    def upsert(self, document: dict[str, Any]) -> None:
        box_id = document["_id"]
        try:
            self._devices.replace_one({"_id": box_id}, document, upsert=True)
            update = registry_update(box_id, document)
            self._status.update_one({"_id": device_status_id(box_id)}, update, upsert=True)
        except PyMongoError as exc:
            raise StoreUnavailable(f"devices: upsert failed: {exc}") from exc

    def delete(self, box_id: str) -> None:
        try:
            self._devices.delete_one({"_id": box_id})
            self._status.update_one(
                {"_id": device_status_id(box_id)}, registry_update(box_id, None)
            )
        except PyMongoError as exc:
            raise StoreUnavailable(f"devices: delete failed: {exc}") from exc

    def keep_only(self, box_ids: Collection[str]) -> int:
        """Also gives every other device its id back as its name: those removed while
        the sink was down, and documents written before names were kept (no
        ``registered`` field). Once per start; each is one update by ``_id``."""
        live = list(box_ids)
        try:
            gone = self._devices.delete_many({"_id": {"$nin": live}}).deleted_count
            stale = self._status.find(
                {"scope": "device", "device_id": {"$nin": live}, "registered": {"$ne": False}},
                {"device_id": 1},
            )
            for doc in list(stale):
                update = registry_update(doc["device_id"], None)
                self._status.update_one({"_id": doc["_id"]}, update)
            return gone
        except PyMongoError as exc:
            raise StoreUnavailable(f"devices: delete failed: {exc}") from exc

    def set_state(self, record: StateRecord) -> None:
        status_id, update, upsert = state_update(record)
        try:
            self._status.update_one({"_id": status_id}, update, upsert=upsert)
        except PyMongoError as exc:
            raise StoreUnavailable(f"devices: state of {record.device_id} failed: {exc}") from exc

    def close(self) -> None:
        self._client.close()


class DeviceMirror:
    """Reads the registry topic on a thread of its own and applies it to ``store``."""

    def __init__(
        self,
        consumer: RegistryConsumer,
        store: DeviceStore,
        *,
        topic: str,
        retry_initial_seconds: float = 0.2,
        retry_max_seconds: float = 10.0,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._retry = (retry_initial_seconds, retry_max_seconds)
        self._live: set[str] = set()
        self._reconciled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reader = RegistryReader(consumer, topic, self._apply, on_state=self._apply_state)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="devices-mirror", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still writing; the process ends it
        self._consumer.close()
        self._store.close()

    def step(self, timeout: float = 0.2) -> None:
        """One turn: read a record (applied with retries), reconcile once caught up."""
        self.reader.step(timeout)
        if self.reader.caught_up.is_set() and not self._reconciled:
            self._reconciled = True
            if self.reader.topic_exists:  # a missing topic says nothing about boxes
                gone = self._retrying("reconcile", lambda: self._store.keep_only(self._live))
                if gone:
                    log.info("devices: %d box(es) no longer in the registry deleted", gone)

    def _apply(self, record: RegistryRecord) -> None:
        if record.box is None:
            self._live.discard(record.box_id)
            self._retrying(record.box_id, lambda: self._store.delete(record.box_id))
            return
        box = record.box
        when = (
            datetime.fromtimestamp(record.timestamp_ms / 1000, UTC) if record.timestamp_ms else None
        )
        self._live.add(box.id)
        self._retrying(box.id, lambda: self._store.upsert(device_document(box, when)))

    def _apply_state(self, record: StateRecord) -> None:
        self._retrying(record.device_id, lambda: self._store.set_state(record))

    def _retrying(self, what: str, write: Callable[[], T]) -> T | None:
        """Run ``write`` until it succeeds or the mirror stops (then None)."""
        delay, cap = self._retry
        while not self._stop.is_set():
            try:
                return write()
            except StoreUnavailable as exc:
                log.warning("devices %s: %s; retrying in %.1f s", what, exc, delay)
                self._stop.wait(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
                delay = min(delay * 2, cap)
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # the mirror must outlive any one failure
                log.exception("devices mirror: unexpected error; going on in 1 s")
                self._stop.wait(1.0)


def start_devices_mirror(settings: SinkSettings) -> DeviceMirror | None:
    """The mirror for a sink process, started; None if ``devices_mirror`` is off."""
    if not settings.devices_mirror:
        return None
    from iotpipe.devices.kafka import connect_consumer  # noqa: PLC0415
    from iotpipe.endpoints import endpoint_settings, resolve_endpoints  # noqa: PLC0415

    endpoints = resolve_endpoints(
        endpoint_settings(
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            mongodb_uri=settings.mongodb_uri,
        )
    )
    mirror = DeviceMirror(
        connect_consumer(endpoints.kafka),
        MongoDevices.connect(endpoints.mongodb.get_secret_value(), settings.database),
        topic=settings.devices_topic,
        retry_initial_seconds=settings.retry_initial_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )
    mirror.start()
    return mirror
