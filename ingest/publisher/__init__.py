"""The port to Kafka: a small Protocol, with the real adapter (``kafka``) and a fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel

from iotpipe.contract.catalog import RecordType

__all__ = ["DELIVERED", "Delivered", "Failed", "Outcome", "Publisher"]


@dataclass(frozen=True, slots=True)
class Delivered:
    """Kafka acknowledged the record (acks=all): it will not be lost. (One instance,
    ``DELIVERED``, serves every record: a request answers per record, not per offset.)"""


DELIVERED = Delivered()


@dataclass(frozen=True, slots=True)
class Failed:
    """The record was not acknowledged; the client may retry it (same event_id), except
    for ``too_large``: Kafka refuses a record that large, and always will."""

    reason: Literal["unavailable", "queue_full", "too_large"]
    detail: str
    retry_after: int


Outcome = Delivered | Failed


class Publisher(Protocol):
    async def start(self, record_types: Sequence[RecordType]) -> None:
        """Get ready to publish these record types (e.g. look up their schema ids)."""
        ...

    async def publish(self, records: Sequence[BaseModel], *, trace: str) -> list[Outcome]:
        """Produce every record (key: device_id); one outcome per record, in order."""
        ...

    def problem(self) -> str | None:
        """None when Kafka and the registry are reachable, else why not (for /readyz)."""
        ...

    def queue_depth(self) -> int: ...

    async def close(self) -> None: ...
