"""ingest's device registry: the registry topic followed in memory for the app's life.

ingest answers openSenseMap requests from this view alone (box known? which sensors?
token?), so it reads the compacted registry topic before it serves, and keeps reading
it: boxes imported while it runs are known within about a second. It never writes to
MongoDB; the sink mirrors the same topic there for dashboards. Device states set over
HTTP (``PUT /v1/devices/{id}/state``) are written to that topic from here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from ingest.settings import IngestSettings
from iotpipe.devices.follower import RegistryFollower
from iotpipe.devices.states import DeviceState, StateRecord

__all__ = ["RegistryStates", "close_on_shutdown", "follow_registry"]

log = logging.getLogger("iotpipe.ingest.devices")


def follow_registry(settings: IngestSettings, bootstrap_servers: str) -> RegistryFollower:
    """A started follower, given up to ``devices_wait_seconds`` to read the registry.

    If Kafka is slow to answer, ingest serves anyway (readings of the contract need no
    box) and boxes become known as they are read."""
    follower = RegistryFollower.connect(bootstrap_servers, settings.devices_topic)
    follower.start()
    if follower.wait_caught_up(settings.devices_wait_seconds):
        log.info("device registry %s: %d box(es)", settings.devices_topic, follower.count())
    else:
        log.warning(
            "device registry %s not read to its end within %g s (%d box(es) so far); "
            "boxes become known as they are read",
            settings.devices_topic,
            settings.devices_wait_seconds,
            follower.count(),
        )
    return follower


class RegistryStates:
    """Device states as the registry topic has them: read from the follower, written to
    the topic (blocking: call from a thread)."""

    def __init__(
        self, follower: RegistryFollower, bootstrap_servers: str, topic: str, timeout: float = 10.0
    ) -> None:
        self._follower = follower
        self._servers = bootstrap_servers
        self._topic = topic
        self._timeout = timeout

    def state_of(self, device_id: str) -> StateRecord | None:
        return self._follower.state_of(device_id)

    def record(self, device_id: str, state: DeviceState, reason: str) -> StateRecord:
        from iotpipe.devices.kafka import publish_state  # noqa: PLC0415

        publish_state(
            self._servers, device_id, state, reason, topic=self._topic, timeout=self._timeout
        )
        record = StateRecord(device_id, state, reason, datetime.now(UTC))
        # This replica's GET shows it at once; the follower reads the same record later.
        self._follower.apply_state(record)
        return record


def close_on_shutdown(app: FastAPI, follower: RegistryFollower) -> None:
    """Close ``follower`` after the app's own lifespan ends (the app knows nothing of it)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(current: Any) -> AsyncIterator[Any]:
        try:
            async with inner(current) as state:
                yield state
        finally:
            follower.close()

    app.router.lifespan_context = lifespan
