"""Accept records, publish the valid ones, and report each record's fate."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel

from ingest.domain.accept import Accepted, Policy, Receipt, RecordError, accept_all
from ingest.domain.errors import Backpressure, BodyTooLarge, Forbidden, InvalidRecords, Unavailable
from ingest.metrics import IngestMetrics
from ingest.publisher import DELIVERED, Delivered, Failed, Publisher

__all__ = ["IngestService", "RecordResult", "raise_for"]


@dataclass(slots=True)
class RecordResult:
    index: int
    status: Literal["accepted", "rejected", "failed"]
    event_id: str | None = None
    errors: tuple[RecordError, ...] = ()
    failure: Failed | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.event_id is not None and self.status == "accepted":  # the common case
            return {"index": self.index, "status": "accepted", "event_id": self.event_id}
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        if self.failure is not None:
            out["errors"] = [
                {"code": self.failure.reason, "pointer": "", "message": self.failure.detail}
            ]
        return out


@dataclass
class IngestService:
    publisher: Publisher
    metrics: IngestMetrics
    max_future_skew: timedelta
    max_age: timedelta
    _policies: dict[frozenset[str] | None, Policy] = field(default_factory=dict)

    def policy(self, devices: frozenset[str] | None) -> Policy:
        if devices not in self._policies:
            self._policies[devices] = Policy(self.max_future_skew, self.max_age, devices)
        return self._policies[devices]

    async def submit(
        self,
        raws: Sequence[Any],
        model: type[BaseModel],
        *,
        devices: frozenset[str] | None,
        trace: str,
        policy: Policy | None = None,
        atomic: bool = False,
    ) -> list[RecordResult]:
        """Validate every record, publish the valid ones, one result per input, in order.

        ``policy`` replaces the late-data policy for routes with rules of their own
        (openSenseMap: no past limit). ``atomic``: publish nothing unless every record is
        valid (an openSenseMap request is all-or-nothing); the valid records of a refused
        batch then say ``rejected`` with code ``batch_rejected``.
        """
        policy = policy or self.policy(devices)
        results: list[RecordResult | None] = [None] * len(raws)
        valid: list[tuple[int, BaseModel, str]] = []
        kind = model.__name__
        receipt = Receipt(policy, size=len(raws))
        for index, verdict in enumerate(accept_all(raws, model, receipt)):
            if isinstance(verdict, Accepted):
                valid.append((index, verdict.record, verdict.event_id))
            else:
                results[index] = RecordResult(index, "rejected", errors=verdict.errors)
                self.metrics.rejected(kind, verdict.errors[0].code)
        if atomic and len(valid) < len(raws):
            refused = RecordError("batch_rejected", "", "not published: the batch was refused")
            for index, _record, _event_id in valid:
                results[index] = RecordResult(index, "rejected", errors=(refused,))
                self.metrics.rejected(kind, refused.code)
            valid = []
        if valid:
            started = time.perf_counter()
            outcomes = await self.publisher.publish([r for _, r, _ in valid], trace=trace)
            self.metrics.produce_latency.observe(time.perf_counter() - started)
            delivered = 0
            for (index, _record, event_id), outcome in zip(valid, outcomes, strict=True):
                if outcome is DELIVERED or isinstance(outcome, Delivered):
                    results[index] = RecordResult(index, "accepted", event_id)
                    delivered += 1
                elif outcome.reason == "too_large":  # a retry cannot help: rejected
                    message = f"the record is larger than Kafka accepts ({outcome.detail})"
                    error = RecordError("too_large", "", message)
                    results[index] = RecordResult(index, "rejected", errors=(error,))
                    self.metrics.rejected(kind, outcome.reason)
                else:
                    results[index] = RecordResult(index, "failed", event_id, failure=outcome)
                    self.metrics.rejected(kind, outcome.reason)
            if delivered:
                self.metrics.accepted(kind, delivered)  # once per request, not per record
        return [r for r in results if r is not None]


def raise_for(results: list[RecordResult], *, single: bool) -> None:
    """Turn results that accepted nothing (or lost some to Kafka) into the right error."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        retry = max(r.failure.retry_after for r in failed if r.failure is not None)
        cls = (
            Backpressure
            if any(r.failure and r.failure.reason == "queue_full" for r in failed)
            else Unavailable
        )
        raise cls(
            f"{len(failed)} of {len(results)} records were not acknowledged by Kafka; "
            "retry them with the same event_id",
            retry_after=retry,
            results=results,
            single=single,
        )
    if any(r.status == "accepted" for r in results):
        return
    what = "the record was" if single else f"all {len(results)} records were"
    if all(any(e.code == "forbidden_device" for e in r.errors) for r in results):
        raise Forbidden(
            f"{what} refused: this API key publishes for its own device only",
            results=results,
            single=single,
        )
    if all(any(e.code == "too_large" for e in r.errors) for r in results):
        raise BodyTooLarge(
            f"{what} refused: larger than Kafka accepts for one record",
            results=results,
            single=single,
        )
    raise InvalidRecords(f"{what} rejected; see errors", results=results, single=single)
