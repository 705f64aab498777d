"""``RegistryFollower``: ingest's view of the device registry, kept in memory.

Ingest must know every box (does it exist, which sensors, which token) on every request
and must never write to MongoDB, so it follows the compacted registry topic itself: a
background thread reads the topic from the beginning and then stays at its end, and
lookups are dictionary reads. A box imported while ingest runs is known within about a
second. Kafka being away only delays news; the boxes already known stay known. Device
states (paused, retired) are followed the same way.
"""

from __future__ import annotations

import logging
import threading

from iotpipe.devices.boxes import Box
from iotpipe.devices.reader import RegistryConsumer, RegistryReader
from iotpipe.devices.states import StateRecord
from iotpipe.devices.topic import DEVICES_TOPIC, RegistryRecord

__all__ = ["RegistryFollower"]

log = logging.getLogger("iotpipe.devices.follower")


class RegistryFollower:
    """A :class:`~iotpipe.devices.boxes.BoxDirectory` fed by the registry topic.

    Build it with :meth:`connect` (a real consumer) or pass any
    :class:`~iotpipe.devices.reader.RegistryConsumer` (tests).
    """

    def __init__(
        self,
        consumer: RegistryConsumer,
        topic: str = DEVICES_TOPIC,
        *,
        poll_seconds: float = 0.2,
        refresh_seconds: float = 10.0,
    ) -> None:
        self.topic = topic
        self._consumer = consumer
        self._poll_seconds = poll_seconds
        self._boxes: dict[str, Box] = {}
        self._states: dict[str, StateRecord] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader = RegistryReader(
            consumer, topic, self._apply, on_state=self.apply_state, refresh_seconds=refresh_seconds
        )

    @classmethod
    def connect(cls, bootstrap_servers: str, topic: str = DEVICES_TOPIC) -> RegistryFollower:
        from iotpipe.devices.kafka import connect_consumer  # noqa: PLC0415

        return cls(connect_consumer(bootstrap_servers), topic)

    # BoxDirectory
    def get(self, box_id: str) -> Box | None:
        with self._lock:
            return self._boxes.get(box_id.lower())

    def all(self) -> list[Box]:
        with self._lock:
            boxes = list(self._boxes.values())
        return sorted(boxes, key=lambda b: b.id)

    def count(self) -> int:
        """How many boxes are known (no ``__len__``: an empty follower must stay truthy,
        or ``boxes or InMemoryBoxes()`` would swap it for a directory that never fills)."""
        with self._lock:
            return len(self._boxes)

    def state_of(self, device_id: str) -> StateRecord | None:
        """The device's recorded state (None: never recorded, active)."""
        with self._lock:
            return self._states.get(device_id)

    def apply_state(self, record: StateRecord) -> None:
        """Take a state as read from the topic (or just written to it by this process,
        which reads the same record again later: applying it twice changes nothing)."""
        with self._lock:
            self._states[record.device_id] = record

    @property
    def caught_up(self) -> bool:
        """True once the registry as it was at start has been read completely."""
        return self._reader.caught_up.is_set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="registry-follower", daemon=True)
        self._thread.start()

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until the registry as it was at start is read; False if ``timeout`` passed."""
        return self._reader.caught_up.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # the consumer is still in use: leave it to the process
                log.warning("registry follower did not stop within %g s", timeout)
                return
        self._consumer.close()

    def _apply(self, record: RegistryRecord) -> None:
        with self._lock:
            if record.box is None:
                self._boxes.pop(record.box_id, None)
            else:
                self._boxes[record.box_id] = record.box

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._reader.step(self._poll_seconds)
            except Exception:  # the follower must outlive any one failure
                log.exception("registry follower: unexpected error; going on in 1 s")
                self._stop.wait(1.0)
