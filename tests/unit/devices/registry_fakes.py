"""A registry topic in memory, behind the consumer methods the registry reader uses."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from iotpipe.devices.boxes import Box
from iotpipe.devices.topic import encode_box

TOKEN = "f" * 64

BOX_ID = "57000b8745fd40c8196ad04c"
SENSOR_ID = "57000b8745fd40c8196ad052"


def box_json(box_id: str = BOX_ID, name: str = "Oststr", **more: Any) -> dict[str, Any]:
    """A box as openSenseMap's owner view has it (raw access token included)."""
    return {
        "_id": box_id,
        "name": name,
        "model": "homeV2Wifi",
        "exposure": "outdoor",
        "useAuth": True,
        "access_token": TOKEN,
        "currentLocation": {"type": "Point", "coordinates": [7.64568, 51.962372]},
        "sensors": [
            {"_id": SENSOR_ID, "title": "Temperatur", "unit": "°C", "sensorType": "HDC1008"}
        ],
        **more,
    }


def box(box_id: str = BOX_ID, name: str = "Oststr", **more: Any) -> Box:
    return Box.from_osem(box_json(box_id, name, **more))


@dataclass(frozen=True)
class FakeMessage:
    partition_: int
    offset_: int | None
    key_: bytes | None
    value_: bytes | None
    error_: KafkaError | None = None
    timestamp_ms: int = 1_764_000_000_000

    def error(self) -> KafkaError | None:
        return self.error_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int | None:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def timestamp(self) -> tuple[int, int]:
        return (1, self.timestamp_ms)


class FakeConsumer:
    """``partitions`` partitions of one topic; records are appended by the test.

    ``exists`` False: the topic is unknown; ``metadata_failures`` > 0: that many metadata
    requests fail as if no broker answered; ``hold``: poll delivers nothing."""

    def __init__(self, topic: str, partitions: int = 1) -> None:
        self.topic = topic
        self.logs: dict[int, list[tuple[bytes | None, bytes | None]]] = {
            p: [] for p in range(partitions)
        }
        self.exists = True
        self.metadata_failures = 0
        self.hold = False
        self.errors: list[KafkaError] = []
        self.positions: dict[int, int] = {}
        self.closed = False
        self._eof_at: dict[int, int] = {}
        self._lock = threading.Lock()

    def put(self, value: Box, partition: int = 0) -> None:
        self.append(*encode_box(value), partition=partition)

    def append(self, key: bytes | None, value: bytes | None, partition: int = 0) -> None:
        with self._lock:
            self.logs[partition].append((key, value))

    def raw(self, key: bytes | None, value: Any, partition: int = 0) -> None:
        """A record whose value is ``value`` as JSON (or bytes as given)."""
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.append(key, data, partition)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        if self.metadata_failures > 0:
            self.metadata_failures -= 1
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        if not self.exists:
            error = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
            return SimpleNamespace(topics={self.topic: SimpleNamespace(error=error, partitions={})})
        meta = SimpleNamespace(error=None, partitions=dict.fromkeys(self.logs))
        return SimpleNamespace(topics={self.topic: meta})

    def get_watermark_offsets(
        self, partition: Any, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        return 0, len(self.logs[partition.partition])

    def incremental_assign(self, partitions: list[Any]) -> None:
        for tp in partitions:
            assert tp.topic == self.topic
            self.positions[tp.partition] = 0  # OFFSET_BEGINNING

    def poll(self, timeout: float = -1) -> Any:
        with self._lock:
            if self.errors:
                return FakeMessage(0, None, None, None, self.errors.pop(0))
            if self.hold:
                return None
            for p, position in self.positions.items():
                log = self.logs[p]
                if position < len(log):
                    self.positions[p] = position + 1
                    key, value = log[position]
                    return FakeMessage(p, position, key, value)
                if self._eof_at.get(p) != position:
                    self._eof_at[p] = position
                    return FakeMessage(p, None, None, None, KafkaError(KafkaError._PARTITION_EOF))
        return None

    def close(self) -> None:
        self.closed = True
