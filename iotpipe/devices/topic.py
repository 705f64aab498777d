"""Records of the device registry topic: one box per key, JSON in a versioned envelope.

The registry's source of truth is a compacted Kafka topic (``iotpipe.devices``): key =
box id, value = ``{"version": 1, "box": Box.as_registry()}``, a tombstone (null value)
removes the box. Compaction keeps the latest record per box forever, so anyone can
rebuild the whole registry by reading the topic from the beginning: ingest follows it in
memory (it never writes to MongoDB), the sink mirrors it into MongoDB for Grafana.

JSON, not Avro: this is operational state written by an operator's command and read
by iotpipe alone, not sensor data under the contract; it needs no schema registry and
stays readable with ``kafka-console-consumer``. The envelope's ``version`` lets a later
format be refused cleanly by an older reader instead of being misread.

Device states (:mod:`iotpipe.devices.states`) share the topic under keys of their own,
``state/<device_id>`` (a device id has no "/"), value ``{"version": 1, "state":
{"device_id", "state", "reason"}}``; every change is a record (activating too), so the
latest state of every device is kept for good. A reader older than states skips them
with a warning (not a box id).

Decoding never raises: a record that cannot be read is logged and skipped, because one
bad record must not keep every box after it from being known.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iotpipe.devices.boxes import OBJECT_ID, Box
from iotpipe.devices.states import DeviceState, StateRecord, check_device_id
from iotpipe.errors import ConfigError

__all__ = [
    "DEVICES_TOPIC",
    "RECORD_VERSION",
    "STATE_KEY_PREFIX",
    "RegistryRecord",
    "decode_record",
    "encode_box",
    "encode_removal",
    "encode_state",
]

DEVICES_TOPIC = "iotpipe.devices"
RECORD_VERSION = 1
STATE_KEY_PREFIX = "state/"

log = logging.getLogger("iotpipe.devices.topic")


@dataclass(frozen=True)
class RegistryRecord:
    """One decoded record: ``box`` is None for a tombstone (the box was removed).

    ``timestamp_ms`` is the Kafka record timestamp (when the box was last changed).
    """

    box_id: str
    box: Box | None
    timestamp_ms: int | None = None


def encode_box(box: Box) -> tuple[bytes, bytes]:
    """The key and value of the record that puts ``box`` into the registry."""
    value = {"version": RECORD_VERSION, "box": box.as_registry()}
    return box.id.encode(), json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


def encode_removal(box_id: str) -> tuple[bytes, None]:
    """The key and (null) value of the tombstone that removes ``box_id``."""
    if not OBJECT_ID.match(box_id):
        raise ConfigError(f"box id must be 24 hex characters, got {box_id!r}")
    return box_id.lower().encode(), None


def encode_state(device_id: str, state: DeviceState, reason: str = "") -> tuple[bytes, bytes]:
    """The key and value of the record that sets ``device_id``'s state."""
    check_device_id(device_id)
    body = {"device_id": device_id, "state": state.value, "reason": reason}
    value = {"version": RECORD_VERSION, "state": body}
    key = f"{STATE_KEY_PREFIX}{device_id}".encode()
    return key, json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


def decode_record(
    key: bytes | None,
    value: bytes | None,
    *,
    timestamp_ms: int | None = None,
    where: str = "",
) -> RegistryRecord | StateRecord | None:
    """The record, or None (with a warning naming ``where``) if it cannot be used."""
    try:
        if key is not None and key.startswith(STATE_KEY_PREFIX.encode()):
            return _state(key, value, timestamp_ms)
        box_id = _box_id(key)
        if value is None:
            return RegistryRecord(box_id, None, timestamp_ms)
        box = Box.from_osem(_box_json(value))
        if box.id != box_id:
            raise ValueError(f"the key says box {box_id}, the value holds box {box.id}")
        return RegistryRecord(box_id, box, timestamp_ms)
    except (ValueError, ConfigError) as exc:
        log.warning("registry record %s skipped: %s", where or "?", exc)
        return None


def _state(key: bytes, value: bytes | None, timestamp_ms: int | None) -> StateRecord:
    try:
        device_id = key.decode("ascii").removeprefix(STATE_KEY_PREFIX)
    except UnicodeDecodeError as exc:
        raise ValueError("the key is not a device id (not ASCII)") from exc
    check_device_id(device_id)
    when = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else None
    if value is None:  # not written by iotpipe (activate writes a record), but plain
        return StateRecord(device_id, DeviceState.ACTIVE, "", when)
    body = _envelope(value, "state")
    if body.get("device_id") != device_id:
        raise ValueError(f"the key says device {device_id}, the value {body.get('device_id')!r}")
    try:
        state = DeviceState(str(body.get("state")))
    except ValueError as exc:
        raise ValueError(f"state {body.get('state')!r} is none of active, paused, retired") from exc
    reason = body.get("reason")
    return StateRecord(device_id, state, reason if isinstance(reason, str) else "", when)


def _box_id(key: bytes | None) -> str:
    if key is None:
        raise ValueError("the record has no key (a box id)")
    try:
        box_id = key.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError("the key is not a box id (not ASCII)") from exc
    if not OBJECT_ID.match(box_id):
        raise ValueError(f"the key {box_id[:40]!r} is not a box id (24 hex characters)")
    return box_id.lower()


def _box_json(value: bytes) -> dict[str, Any]:
    return _envelope(value, "box")


def _envelope(value: bytes, kind: str) -> dict[str, Any]:
    """The object under ``kind`` in a record's versioned envelope."""
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the value is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("the value is not a JSON object")
    version = data.get("version")
    if version != RECORD_VERSION:
        raise ValueError(
            f"version {version!r} is not {RECORD_VERSION} (written by another iotpipe release?)"
        )
    inner = data.get(kind)
    if not isinstance(inner, dict):
        raise ValueError(f"the value has no '{kind}' object")
    return inner
