"""In-memory publisher for unit tests: records land in a list; faults can be switched on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from ingest.publisher import DELIVERED, Failed, Outcome
from iotpipe.contract.catalog import RecordType

__all__ = ["MemoryPublisher"]


@dataclass
class MemoryPublisher:
    published: list[tuple[BaseModel, str]] = field(default_factory=list)
    failure: Failed | None = None  # when set, every record fails this way
    capacity: int | None = None  # records beyond it fail with queue_full

    async def start(self, record_types: Sequence[RecordType]) -> None:
        return None

    async def publish(self, records: Sequence[BaseModel], *, trace: str) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for record in records:
            if self.failure is not None:
                outcomes.append(self.failure)
            elif self.capacity is not None and len(self.published) >= self.capacity:
                outcomes.append(Failed("queue_full", "producer queue full", 1))
            else:
                self.published.append((record, trace))
                outcomes.append(DELIVERED)
        return outcomes

    def problem(self) -> str | None:
        return None if self.failure is None else self.failure.detail

    def queue_depth(self) -> int:
        return 0

    async def close(self) -> None:
        return None
