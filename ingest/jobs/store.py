"""Where job state lives: the port, and the in-memory fake the unit tests use.

The real adapter is :class:`ingest.jobs.kafka_store.KafkaJobStore` (a compacted topic of
one partition): ingest keeps no database of its own, every replica reads the same log in
the same order, and the records of a job, folded with :func:`ingest.jobs.lease.supersedes`,
are all a replica needs to show it or take it over.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ingest.jobs.errors import StoreError
from ingest.jobs.model import Job

__all__ = ["JobStore", "MemoryJobStore"]


class JobStore(Protocol):
    async def read(self) -> list[Job]:
        """The records written since the last read (the first read: every record kept),
        in log order, up to the log's end as of this call: whatever any replica saved
        before the call is in it."""
        ...

    async def save(self, job: Job) -> None:
        """Write the job's state; durable when this returns (StoreError otherwise)."""
        ...

    async def close(self) -> None: ...


class MemoryJobStore:
    """One log of JSON records (as the topic would hold them), in order; ``replica()``
    gives another reader of the same log, as another ingest replica is."""

    def __init__(self, log: list[dict[str, Any]] | None = None) -> None:
        self.writes: list[dict[str, Any]] = [] if log is None else log
        self._read = 0
        self.failure: str | None = None  # when set, read and save raise StoreError with it

    @property
    def latest(self) -> dict[str, dict[str, Any]]:
        """Each job's latest record, as compaction would keep it."""
        return {data["id"]: data for data in self.writes}

    def replica(self) -> MemoryJobStore:
        return MemoryJobStore(self.writes)

    async def read(self) -> list[Job]:
        if self.failure is not None:
            raise StoreError(self.failure)
        fresh = self.writes[self._read :]
        self._read += len(fresh)
        return [Job.from_dict(data) for data in fresh]

    async def save(self, job: Job) -> None:
        if self.failure is not None:
            raise StoreError(self.failure)
        self.writes.append(json.loads(json.dumps(job.as_dict())))  # what the topic would hold

    async def close(self) -> None:
        return None
