"""Helpers of the device registry integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

COMPACTED = {"cleanup.policy": "compact", "retention.ms": "-1"}


def drop_topics(kafka: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": kafka})
    existing = admin.list_topics(timeout=10).topics
    doomed = [n for n in names if n in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result(30)


def make_topic(kafka: str, name: str, config: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": kafka})
    topic = NewTopic(name, num_partitions=1, replication_factor=1, config=config)
    admin.create_topics([topic])[name].result(30)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> float | None:
    """Seconds until ``check`` held, or None if it never did within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    return None
