"""A fake Kafka consumer and messages for the sink's unit tests (no broker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition


@dataclass
class FakeMessage:
    _topic: str
    _partition: int
    _offset: int
    _key: bytes | None
    _value: bytes | None
    _headers: list[tuple[str, str | bytes | None]] = field(default_factory=list)

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        return self._headers

    def error(self) -> None:
        return None


Callback = Callable[[Any, list[TopicPartition]], None]


@dataclass
class FakeConsumer:
    """Reads ``messages`` in order. Rebalances and statistics queued in ``events`` are
    delivered at the start of the next poll/consume, on the caller's thread, as
    librdkafka does: the callbacks get only the partitions that move (cooperative), and
    when ``on_assign`` does not assign them itself the consumer does."""

    messages: list[FakeMessage]
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    paused: bool = False
    pauses: int = 0
    closed: bool = False
    position: int = 0
    events: list[tuple[str, Any]] = field(default_factory=list)
    stats_cb: Callable[[str], None] | None = None
    refuse_commits: int = 0  # the next N commits fail with ILLEGAL_GENERATION
    held: set[tuple[str, int]] | None = None  # None: partition 0 of sensor-data, always
    assigned_by_app: list[list[TopicPartition]] = field(default_factory=list)
    paused_partitions: list[tuple[str, int]] = field(default_factory=list)
    _callbacks: dict[str, Callback] = field(default_factory=dict)

    def subscribe(self, topics: list[str], **callbacks: Callback) -> None:
        self._callbacks = {name: cb for name, cb in callbacks.items() if cb is not None}

    def rebalance(self, kind: str, partitions: list[int], topic: str = "sensor-data") -> None:
        """Queue an ``assign``, ``revoke`` or ``lost`` of these partitions."""
        self.events.append((kind, [TopicPartition(topic, p) for p in partitions]))

    def _deliver(self) -> None:
        while self.events:
            kind, payload = self.events.pop(0)
            if kind == "stats":
                if self.stats_cb is not None:
                    self.stats_cb(payload)
                continue
            keys = {(p.topic, p.partition) for p in payload}
            if self.held is None:
                self.held = set()
            if kind == "assign":
                before = len(self.assigned_by_app)
                self._callbacks["on_assign"](self, payload)
                if len(self.assigned_by_app) == before:
                    self.held |= keys
            else:
                callback = self._callbacks.get("on_lost" if kind == "lost" else "on_revoke")
                if callback is None:
                    callback = self._callbacks["on_revoke"]
                callback(self, payload)
                self.held -= keys

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        """What is there (up to ``num_messages``); with nothing there, a short wait, as a
        real consumer waits for its timeout (tests append to ``messages`` meanwhile)."""
        self._deliver()
        batch = [] if self.paused else self.messages[self.position : self.position + num_messages]
        self.position += len(batch)
        if not batch and timeout > 0:
            time.sleep(min(timeout, 0.001))
        return batch

    def poll(self, timeout: float) -> FakeMessage | None:
        batch = self.consume(1, timeout)
        return batch[0] if batch else None

    def assignment(self) -> list[TopicPartition]:
        if self.held is None:
            return [TopicPartition("sensor-data", 0)]
        return [TopicPartition(t, p) for t, p in sorted(self.held)]

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned_by_app.append(partitions)
        self.held = (self.held or set()) | {(p.topic, p.partition) for p in partitions}

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused = True
        self.pauses += 1
        self.paused_partitions.extend((p.topic, p.partition) for p in partitions)

    def resume(self, _partitions: list[TopicPartition]) -> None:
        self.paused = False

    def seek(self, partition: TopicPartition) -> None:
        """The next record read is the one at ``partition.offset`` (read again)."""
        for index, message in enumerate(self.messages):
            if (message.partition(), message.offset()) == (partition.partition, partition.offset):
                self.position = min(self.position, index)
                return

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self.refuse_commits > 0:  # as Kafka does in a rebalance
            self.refuse_commits -= 1
            raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION))
        for tp in offsets:
            self.committed[(tp.topic, tp.partition)] = tp.offset

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeDeadLetters:
    sent: list[Any] = field(default_factory=list)
    topic: str = "sensor-data.dlq"

    def send(self, letters: list[Any], timeout: float = 30.0) -> None:
        self.sent.extend(letters)
