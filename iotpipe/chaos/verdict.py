"""Counting what the database holds against what the driver was told, and the verdict.

``lost``: acknowledged readings not stored. ``duplicates``: stored documents whose
event_id occurs more than once, plus stored documents the driver never saw acknowledged
or failed (a rejected or unknown reading in the database). A scenario passes when both
are 0, every deliberately invalid reading was answered as rejected, no valid one was,
and the scenario's own checks hold.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from pymongo import MongoClient

from iotpipe.chaos.ledger import Ledger

__all__ = ["ScenarioResult", "count_stored", "drain", "judge"]


@dataclass
class ScenarioResult:
    scenario: str
    sent: int
    acknowledged: int
    stored: int
    duplicates: int
    lost: int
    rejected_reported: int
    rejected_expected: int
    failed_unresolved: int
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # HTTP status (0: none) -> count
    retries: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.rejected_reported == self.rejected_expected
            and all(self.checks.values())
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def count_stored(mongo_uri: str, database: str) -> Counter[str]:
    """event_id -> number of documents holding it, in ``readings``."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=20_000)
    try:
        cursor = client[database]["readings"].find({}, {"event_id": 1, "_id": 0})
        return Counter(str(doc.get("event_id")) for doc in cursor)
    finally:
        client.close()


def drain(mongo_uri: str, database: str, acknowledged: set[str], timeout: float) -> Counter[str]:
    """Wait until every acknowledged reading is stored (or time is up); the final count."""
    deadline = time.monotonic() + timeout
    while True:
        stored = count_stored(mongo_uri, database)
        if acknowledged <= stored.keys() or time.monotonic() > deadline:
            return stored
        time.sleep(1.0)


def judge(
    scenario: str, ledger: Ledger, stored: Counter[str], checks: dict[str, bool], seconds: float
) -> ScenarioResult:
    acknowledged = ledger.ids("acknowledged")
    failed = ledger.ids("failed")
    rejected = ledger.ids("rejected")
    doubled = sum(n - 1 for n in stored.values() if n > 1)
    unexpected = [i for i in stored if i not in acknowledged and i not in failed]
    notes = []
    if unexpected:
        notes.append(f"{len(unexpected)} stored but never acknowledged or failed")
    wrongly_rejected = rejected - ledger.bad
    if wrongly_rejected:
        notes.append(f"{len(wrongly_rejected)} valid readings rejected ({dict(ledger.reasons)})")
    if ledger.retry_after_missing:
        notes.append(f"{ledger.retry_after_missing} 429/503 answers without Retry-After")
    if ledger.statuses.get(500):
        notes.append(f"{ledger.statuses[500]} answers 500")
    checks = {
        **checks,
        "every 429/503 had Retry-After": ledger.retry_after_missing == 0,
        "no 500": ledger.statuses.get(500, 0) == 0,
        "no valid reading rejected": not wrongly_rejected,
    }
    return ScenarioResult(
        scenario=scenario,
        sent=ledger.sent_count,
        acknowledged=len(acknowledged),
        stored=len(stored),
        duplicates=doubled + len(unexpected),
        lost=len(acknowledged - stored.keys()),
        rejected_reported=len(rejected & ledger.bad),
        rejected_expected=len(ledger.bad),
        failed_unresolved=len(failed),
        checks=checks,
        notes=notes,
        answers={str(status): n for status, n in sorted(ledger.statuses.items())},
        retries=ledger.retries,
        seconds=round(seconds, 1),
    )
