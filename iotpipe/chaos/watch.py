"""What Kafka says about one scenario's topic and group while faults strike: partition
leaders and sizes (to pick the busiest partition's leader), the group's committed
offsets, and its lag sampled every second in the background.

Taken from the brokers, not the sinks' own gauges: the sink commits only after a write
is durable, so the committed offsets are what is stored, and a sink that dies stops its
gauge but not the brokers' view. A consumer that never subscribes reads the group's
offsets without joining it, so watching never triggers a rebalance.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition

from iotpipe.soak.lag import group_lag

__all__ = ["KafkaWatch", "LagSampler", "lag_recovered"]

# Brokers go away on purpose here: librdkafka's disconnect notices are not news.
_quiet = logging.getLogger("iotpipe.chaos.watch.rdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


class KafkaWatch:
    """A scenario's topic and group, seen from the brokers. Every call may fail while
    brokers are down: ``None`` then, never an exception."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, timeout: float = 5.0) -> None:
        self._topic, self._timeout = topic, timeout
        self._lock = threading.Lock()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "logger": _quiet,
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=30).topics[topic]
        self._partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]

    def committed(self) -> dict[int, int] | None:
        try:
            with self._lock:
                found = self._consumer.committed(self._partitions, timeout=self._timeout)
        except KafkaException:
            return None
        return {tp.partition: tp.offset for tp in found}

    def watermarks(self) -> dict[int, tuple[int, int]] | None:
        marks = {}
        try:
            with self._lock:
                for tp in self._partitions:
                    low, high = self._consumer.get_watermark_offsets(tp, timeout=self._timeout)
                    marks[tp.partition] = (low, high)
        except KafkaException:
            return None
        return marks

    def stored(self) -> int | None:
        """Records the group has committed, over all partitions (0 for none yet)."""
        committed = self.committed()
        return None if committed is None else sum(max(0, o) for o in committed.values())

    def lag(self) -> int | None:
        committed = self.committed()  # before the watermarks: never negative
        marks = self.watermarks()
        if committed is None or marks is None:
            return None
        return group_lag(committed, marks)

    def leaders(self) -> dict[int, int]:
        """Partition -> the broker id leading it (-1: none now); empty if unknown."""
        try:
            with self._lock:
                topic = self._consumer.list_topics(self._topic, timeout=self._timeout)
        except KafkaException:
            return {}
        found = topic.topics.get(self._topic)
        if found is None or found.error is not None:
            return {}
        return {p: meta.leader for p, meta in found.partitions.items()}

    def busiest(self) -> tuple[int, int] | None:
        """(partition, its leader's broker id) of the partition holding most records."""
        marks, leaders = self.watermarks(), self.leaders()
        if not marks or not leaders:
            return None
        partition = max(marks, key=lambda p: marks[p][1] - marks[p][0])
        return partition, leaders.get(partition, -1)

    def wait_lag_zero(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.lag() == 0:
                return True
            time.sleep(0.5)
        return False

    def close(self) -> None:
        with self._lock:
            self._consumer.close()


@dataclass
class LagSampler:
    """The group's lag every ``every`` seconds on a thread: (monotonic time, lag or None)."""

    watch: KafkaWatch
    every: float = 1.0
    samples: list[tuple[float, int | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> LagSampler:
        self._thread = threading.Thread(target=self._run, name="chaos-lag", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.samples.append((began, self.watch.lag()))
            self._stop.wait(max(0.0, self.every - (time.monotonic() - began)))

    def stop(self) -> list[tuple[float, int | None]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return list(self.samples)


def lag_recovered(
    samples: list[tuple[float, int | None]], *, struck: float, over: float, floor: int
) -> float | None:
    """Seconds from ``over`` (the fault lifted) until the lag was back to what it was
    before the fault (the largest sample between the stream's start, the first sample,
    and ``struck``), or ``floor`` if that was less: ~0 under a steady stream. None: it
    never got back during the run."""
    before = [lag for t, lag in samples if t <= struck and lag is not None]
    threshold = max([floor, *before])
    for t, lag in samples:
        if t >= over and lag is not None and lag <= threshold:
            return t - over
    return None
