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

Decoding never raises: a record that cannot be read is logged and skipped, because one
bad record must not keep every box after it from being known.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from iotpipe.devices.boxes import OBJECT_ID, Box
from iotpipe.errors import ConfigError

__all__ = [
    "DEVICES_TOPIC",
    "RECORD_VERSION",
    "RegistryRecord",
    "decode_record",
    "encode_box",
    "encode_removal",
]

DEVICES_TOPIC = "iotpipe.devices"
RECORD_VERSION = 1

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


def decode_record(
    key: bytes | None,
    value: bytes | None,
    *,
    timestamp_ms: int | None = None,
    where: str = "",
) -> RegistryRecord | None:
    """The record, or None (with a warning naming ``where``) if it cannot be used."""
    try:
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
    box = data.get("box")
    if not isinstance(box, dict):
        raise ValueError("the value has no 'box' object")
    return box
