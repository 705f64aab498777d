"""Counting what the database holds against what the driver was told, and the verdict.

``lost``: acknowledged readings not stored. ``duplicates``: stored documents whose
event_id occurs more than once, plus stored documents the driver never saw acknowledged
or failed (a rejected or unknown reading in the database). A scenario passes when both
are 0, every deliberately invalid reading was answered as rejected, no valid one was,
and the scenario's own checks hold.

Counting scales to hundreds of thousands of readings: :func:`drain` first waits on the
brokers (the group's lag back to 0: the sink commits only what is durably stored), then
reads every stored event_id once (from FerretDB's SQLite file on the local stack, 30-40x
faster than FerretDB's own scan; else one projected scan, no per-id query), and reads
again only if something acknowledged is still missing.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from iotpipe.chaos.ledger import Ledger, longest_503_stretch
from iotpipe.chaos.watch import KafkaWatch, lag_recovered

__all__ = [
    "Accounting",
    "Drained",
    "FaultTimes",
    "ScenarioResult",
    "count_stored",
    "drain",
    "judge",
]

FETCH_BATCH = 20_000


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
    brokers: int = 1
    requests: int = 0
    error_rate: float = 0.0  # non-2xx answers that were not deliberate 4xx, over requests
    longest_503_s: float = 0.0  # from a first 503 to the next 2xx
    recover_s: float | None = None  # fault over -> the first acknowledgement after it
    lag_recover_s: float | None = None  # fault over -> the group's lag back to ~0
    slowest_request_s: float = 0.0
    offered_per_s: float = 0.0  # the steady stream's rate
    peak: dict[str, Any] = field(default_factory=dict)  # Peak.as_dict()
    drain: dict[str, float] = field(default_factory=dict)  # where the counting's time went
    versions: list[dict[str, Any]] = field(default_factory=list)  # a rollout's, per version

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


@dataclass
class Accounting:
    """A scenario stage's own part of the verdict (:class:`~iotpipe.chaos.fault.Stage`):
    checks and notes, and the rows of its own table (a rollout's: one per schema version)."""

    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FaultTimes:
    """When the fault struck and was lifted (monotonic), and the lag seen meanwhile."""

    struck: float
    over: float
    lag: list[tuple[float, int | None]] = field(default_factory=list)
    offered_per_s: float = 0.0
    peak: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Drained:
    stored: Counter[str]
    lag_zero_s: float  # waiting for the group's lag to be 0
    fetch_s: float  # the last scan of stored event_ids
    scans: int


def count_stored(mongo_uri: str, database: str, sqlite_dir: Path | None = None) -> Counter[str]:
    """event_id -> number of documents holding it, in ``readings``: read from FerretDB's
    SQLite file when ``sqlite_dir`` holds it (the local stack's database), else by one
    projected scan through the wire protocol."""
    if sqlite_dir is not None and (sqlite_dir / f"{database}.sqlite").is_file():
        return count_stored_sqlite(sqlite_dir / f"{database}.sqlite")
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=20_000)
    try:
        cursor = client[database]["readings"].find(
            {}, {"event_id": 1, "_id": 0}, batch_size=FETCH_BATCH
        )
        return Counter(str(doc.get("event_id")) for doc in cursor)
    finally:
        client.close()


def count_stored_sqlite(path: Path) -> Counter[str]:
    """The same count from FerretDB's SQLite file, opened read-only beside the running
    FerretDB (SQLite lets readers in while it writes; they see committed transactions,
    which is what FerretDB acknowledged). FerretDB's scan through the wire protocol
    decodes every document in Go: ~7,000 documents/s on the 2-core machine, 8-13 s for
    82,000 readings; this reads the same ids in 0.3 s. The collection's table is named
    in FerretDB's own catalog table, ``_ferretdb_collections``."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        found = db.execute(
            "SELECT table_name FROM _ferretdb_collections WHERE name = 'readings'"
        ).fetchone()
        if found is None:
            return Counter()
        rows = db.execute(f"SELECT _ferretdb_sjson->>'$.event_id' FROM \"{found[0]}\"")  # noqa: S608 - FerretDB's own table name
        return Counter(str(event_id) for (event_id,) in rows)


def drain(
    watch: KafkaWatch,
    mongo_uri: str,
    database: str,
    acknowledged: set[str],
    *,
    timeout: float,
    sqlite_dir: Path | None = None,
) -> Drained:
    """Wait until the group has committed everything (or time is up), then count; count
    again every few seconds while an acknowledged reading is missing, until ``timeout``."""
    began = time.monotonic()
    deadline = began + timeout
    watch.wait_lag_zero(timeout)
    lag_zero = time.monotonic() - began
    scans = 0
    while True:
        scan = time.monotonic()
        stored = count_stored(mongo_uri, database, sqlite_dir)
        scans += 1
        fetch = time.monotonic() - scan
        if acknowledged <= stored.keys() or time.monotonic() > deadline:
            return Drained(stored, lag_zero, fetch, scans)
        time.sleep(5.0)


def judge(
    scenario: str,
    ledger: Ledger,
    stored: Counter[str],
    checks: dict[str, bool],
    seconds: float,
    *,
    times: FaultTimes | None = None,
    brokers: int = 1,
    accounting: Accounting | None = None,
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
    timeline = ledger.timeline()
    longest, unended = longest_503_stretch(timeline) if timeline else (0.0, False)
    if unended:
        notes.append("503s until the end of the stream")
    accounting = accounting or Accounting()
    notes += accounting.notes
    checks = {
        **checks,
        **accounting.checks,
        "every 429/503 had Retry-After": ledger.retry_after_missing == 0,
        "no 500": ledger.statuses.get(500, 0) == 0,
        "no valid reading rejected": not wrongly_rejected,
    }
    result = ScenarioResult(
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
        brokers=brokers,
        requests=len(timeline),
        error_rate=round(ledger.error_rate(), 5),
        longest_503_s=round(longest, 2),
        slowest_request_s=round(max((a.seconds for a in timeline), default=0.0), 2),
        versions=accounting.rows,
    )
    if times is not None:
        first = ledger.first_acknowledged_after(times.over)
        result.recover_s = None if first is None else round(first - times.over, 2)
        floor = max(1000, round(times.offered_per_s))  # about a second of the stream
        recovered = lag_recovered(times.lag, struck=times.struck, over=times.over, floor=floor)
        result.lag_recover_s = None if recovered is None else round(recovered, 1)
        result.offered_per_s = round(times.offered_per_s, 1)
        result.peak = times.peak
    return result
