"""Consumer lag of the sink's group, as Kafka sees it: the group's committed offsets
against the partitions' high watermarks.

Taken from the broker rather than the sink's own lag gauge because the sink commits only
after a successful write: the committed offset is what is durably stored, and a sink
that stalls or dies stops updating its gauge but not the broker's view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from confluent_kafka import Consumer, TopicPartition

__all__ = ["KafkaOffsets", "Offsets", "group_lag", "lag"]


class Offsets(Protocol):
    """Where a group stands on one topic: per partition, its committed offset (negative:
    nothing committed yet) and the (low, high) watermarks."""

    def committed(self) -> dict[int, int]: ...

    def watermarks(self) -> dict[int, tuple[int, int]]: ...


def group_lag(committed: Mapping[int, int], watermarks: Mapping[int, tuple[int, int]]) -> int:
    """Records not yet committed, summed over partitions. A partition without a commit
    counts from its low watermark (the sink starts at the earliest offset)."""
    total = 0
    for partition, (low, high) in watermarks.items():
        position = committed.get(partition, -1)
        total += max(0, high - (position if position >= 0 else low))
    return total


def lag(offsets: Offsets) -> int:
    """The group's lag now: watermarks read after the commits, so a record produced in
    between counts as lag rather than going negative."""
    committed = offsets.committed()
    return group_lag(committed, offsets.watermarks())


class KafkaOffsets:
    """Reads a group's offsets without joining it: a consumer that never subscribes is
    not a member, so the sink's partitions are never rebalanced by this probe."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, timeout: float = 10.0) -> None:
        self._topic, self._timeout = topic, timeout
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False}
        )
        metadata = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
        self._partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]

    def committed(self) -> dict[int, int]:
        found = self._consumer.committed(self._partitions, timeout=self._timeout)
        return {tp.partition: tp.offset for tp in found}

    def watermarks(self) -> dict[int, tuple[int, int]]:
        return {
            tp.partition: tuple(self._consumer.get_watermark_offsets(tp, timeout=self._timeout))  # type: ignore[misc]
            for tp in self._partitions
        }

    def lag(self) -> int:
        return lag(self)

    def close(self) -> None:
        self._consumer.close()
