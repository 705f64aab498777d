"""A fake Kafka consumer and messages for the sink's unit tests (no broker)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition


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


@dataclass
class FakeConsumer:
    messages: list[FakeMessage]
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    paused: bool = False
    pauses: int = 0
    closed: bool = False
    position: int = 0

    def subscribe(self, topics: list[str], **_callbacks: Any) -> None:
        return None

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        """What is there (up to ``num_messages``); with nothing there, a short wait, as a
        real consumer waits for its timeout (tests append to ``messages`` meanwhile)."""
        batch = [] if self.paused else self.messages[self.position : self.position + num_messages]
        self.position += len(batch)
        if not batch and timeout > 0:
            time.sleep(min(timeout, 0.001))
        return batch

    def poll(self, timeout: float) -> FakeMessage | None:
        batch = self.consume(1, timeout)
        return batch[0] if batch else None

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("sensor-data", 0)]

    def pause(self, _partitions: list[TopicPartition]) -> None:
        self.paused = True
        self.pauses += 1

    def resume(self, _partitions: list[TopicPartition]) -> None:
        self.paused = False

    def seek(self, partition: TopicPartition) -> None:
        """The next record read is the one at ``partition.offset`` (read again)."""
        for index, message in enumerate(self.messages):
            if (message.partition(), message.offset()) == (partition.partition, partition.offset):
                self.position = min(self.position, index)
                return

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
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
