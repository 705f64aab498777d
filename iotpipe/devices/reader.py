"""Reading the registry topic from its beginning: the loop the follower, the sink's
mirror and ``iotpipe devices list`` share.

Every partition is *assigned* from offset 0 (no consumer group, nothing committed):
each reader wants the whole registry, not a share of it, and a compacted topic read from
the beginning is the registry. Caught up means every partition reached the high
watermark it had when it was first seen, so a reader knows when its view is complete.

Broker trouble never escapes :meth:`RegistryReader.step`: librdkafka reconnects by
itself, metadata is asked for again, and the loop logs what it waits for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from iotpipe.devices.states import StateRecord
from iotpipe.devices.topic import RegistryRecord, decode_record

__all__ = ["RegistryConsumer", "RegistryReader"]

log = logging.getLogger("iotpipe.devices.reader")


class RegistryConsumer(Protocol):
    """The part of confluent-kafka's Consumer the reader uses (a fake in unit tests)."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def get_watermark_offsets(
        self, partition: Any, timeout: float | None = None, cached: bool = False
    ) -> Any: ...

    def incremental_assign(self, partitions: list[Any]) -> None: ...

    def poll(self, timeout: float = -1) -> Any: ...

    def close(self) -> None: ...


class RegistryReader:
    """Reads ``topic`` from the beginning and hands each usable box record to
    ``on_record``, each device state to ``on_state`` (skipped if None).

    ``step`` is one turn of the loop (call it until done); ``caught_up`` is set once the
    high watermarks seen at the start are reached (at once if the topic does not exist:
    there is nothing to catch up with, and the topic is looked for again later).
    """

    def __init__(
        self,
        consumer: RegistryConsumer,
        topic: str,
        on_record: Callable[[RegistryRecord], None],
        *,
        on_state: Callable[[StateRecord], None] | None = None,
        metadata_timeout: float = 5.0,
        refresh_seconds: float = 10.0,
        warn_missing: bool = True,
    ) -> None:
        self.topic = topic
        self.caught_up = threading.Event()
        self.topic_exists: bool | None = None  # None: not known yet
        self._consumer = consumer
        self._on_record = on_record
        self._on_state = on_state
        self._metadata_timeout = metadata_timeout
        self._refresh_seconds = refresh_seconds
        self._next_refresh = 0.0
        self._assigned: set[int] = set()
        self._pending: dict[int, int] = {}  # partition -> high watermark still to reach
        self._warned: set[str] = set() if warn_missing else {"missing"}
        self._poll_errors: set[str] = set()

    def step(self, timeout: float = 0.2) -> None:
        if time.monotonic() >= self._next_refresh:
            self._refresh()
        if not self._assigned:
            time.sleep(min(timeout, max(0.0, self._next_refresh - time.monotonic())))
            return
        message = self._consumer.poll(timeout)
        if message is None:
            return
        error = message.error()
        partition = message.partition()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._reached(partition, None)
            elif error.str() not in self._poll_errors:  # once until a record comes through
                self._poll_errors.add(error.str())
                log.warning("registry topic %s: %s", self.topic, error.str())
            return
        self._poll_errors.clear()
        offset = message.offset()
        _kind, timestamp = message.timestamp()
        record = decode_record(
            message.key(),
            message.value(),
            timestamp_ms=timestamp if timestamp and timestamp > 0 else None,
            where=f"{self.topic}[{partition}]@{offset}",
        )
        if isinstance(record, StateRecord):
            if self._on_state is not None:
                self._on_state(record)
        elif record is not None:
            self._on_record(record)
        self._reached(partition, offset + 1)

    def _reached(self, partition: int, position: int | None) -> None:
        """``position`` None: the partition's end (EOF) was reached."""
        end = self._pending.get(partition)
        if end is not None and (position is None or position >= end):
            del self._pending[partition]
            self._check_caught_up()

    def _check_caught_up(self) -> None:
        if not self._pending and not self.caught_up.is_set():
            self.caught_up.set()
            log.debug("registry topic %s: caught up", self.topic)

    def _refresh(self) -> None:
        """Find the topic's partitions; assign new ones from the beginning."""
        self._next_refresh = time.monotonic() + self._refresh_seconds
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=self._metadata_timeout)
            topic = metadata.topics.get(self.topic)
            missing = topic is None or (
                topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
            )
            if topic is not None and topic.error is not None and not missing:
                raise KafkaException(topic.error)
            partitions = set() if missing or topic is None else set(topic.partitions)
            new = sorted(partitions - self._assigned)
            ends = {p: self._high_watermark(p) for p in new}
        except KafkaException as exc:
            self._next_refresh = time.monotonic() + min(self._refresh_seconds, 1.0)
            self._warn_once("metadata", "registry topic %s: no answer from Kafka (%s); retrying",
                            self.topic, exc)  # fmt: skip
            return
        self._warned.discard("metadata")
        self.topic_exists = not missing
        if missing:
            self._warn_once(
                "missing", "registry topic %s does not exist (`iotpipe topics ensure` creates "
                "it); no boxes are known until it does", self.topic,
            )  # fmt: skip
        if new:
            if not self.caught_up.is_set():
                self._pending.update({p: end for p, end in ends.items() if end > 0})
            self._consumer.incremental_assign(
                [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in new]
            )
            self._assigned.update(new)
        self._check_caught_up()

    def _high_watermark(self, partition: int) -> int:
        low, high = self._consumer.get_watermark_offsets(
            TopicPartition(self.topic, partition), timeout=self._metadata_timeout
        )
        return int(high) if int(high) > int(low) else 0  # 0: empty, nothing to wait for

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        """Log a kind of trouble once until it goes away (librdkafka retries every second)."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message, *args)
