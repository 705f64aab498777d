"""Where job state lives: the port, and the in-memory fake the unit tests use.

The real adapter is :class:`ingest.jobs.kafka_store.KafkaJobStore` (a compacted topic):
ingest keeps no database of its own, and a job's latest record is all a restarted
ingest needs to resume it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ingest.jobs.errors import StoreError
from ingest.jobs.model import Job

__all__ = ["JobStore", "MemoryJobStore"]


class JobStore(Protocol):
    async def load(self) -> list[Job]:
        """The latest state of every job."""
        ...

    async def save(self, job: Job) -> None:
        """Write the job's state; durable when this returns (StoreError otherwise)."""
        ...

    async def close(self) -> None: ...


class MemoryJobStore:
    """Keeps each job's latest JSON (as the topic would) and every write, in order."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, Any]] = {}
        self.writes: list[dict[str, Any]] = []
        self.failure: str | None = None  # when set, load and save raise StoreError with it

    async def load(self) -> list[Job]:
        if self.failure is not None:
            raise StoreError(self.failure)
        return [Job.from_dict(data) for data in self.latest.values()]

    async def save(self, job: Job) -> None:
        if self.failure is not None:
            raise StoreError(self.failure)
        data = json.loads(json.dumps(job.as_dict()))  # what the topic would hold
        self.latest[job.id] = data
        self.writes.append(data)

    async def close(self) -> None:
        return None
