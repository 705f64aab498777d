"""Job state: what was asked, how far each sensor got, and how the job ended.

One ``Job`` is the unit written to the jobs topic (key: job id, value: ``as_dict()``)
and shown by the API, so everything needed to resume lives here: each sensor's cursor is
the ``to-date`` of its next page plus the rows at that instant already taken (the API
pages by time and its bounds are inclusive, so the boundary is read twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from ingest.jobs.errors import JobStateError

__all__ = [
    "FINISHED",
    "MAX_EXAMPLES",
    "BadRow",
    "Job",
    "JobSpec",
    "SensorProgress",
    "State",
    "iso",
    "parse_time",
]

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[State] = frozenset({"succeeded", "failed", "cancelled"})
MAX_EXAMPLES = 20  # bad rows kept as examples; the count covers all of them
# running -> queued: an unfinished job found at start-up waits for a slot again.
_ALLOWED: dict[State, frozenset[State]] = {
    "queued": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"queued", "succeeded", "failed", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as openSenseMap writes and reads times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with a zone (ValueError otherwise), in UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment.astimezone(UTC)


def _opt_time(value: Any) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class JobSpec:
    """What was asked: one box, a closed time range ``[start, end]``, a source API."""

    box_id: str
    start: datetime
    end: datetime
    source: str
    sensors: tuple[str, ...] = ()  # empty: every sensor of the box

    def as_dict(self) -> dict[str, Any]:
        return {
            "box_id": self.box_id,
            "from": iso(self.start),
            "to": iso(self.end),
            "source": self.source,
            "sensors": list(self.sensors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            box_id=data["box_id"],
            start=parse_time(data["from"]),
            end=parse_time(data["to"]),
            source=data["source"],
            sensors=tuple(data.get("sensors") or ()),
        )


@dataclass
class SensorProgress:
    """One sensor's share of a job; ``upper`` and ``seen`` are its cursor."""

    sensor_id: str
    title: str = ""
    unit: str = ""
    state: Literal["pending", "running", "done"] = "pending"
    rows_read: int = 0
    published: int = 0
    rejected: int = 0
    pages: int = 0
    upper: datetime | None = None  # the next page's to-date (inclusive); None: spec.end
    seen: tuple[str, ...] = ()  # fingerprints of rows at ``upper`` already taken
    capped: tuple[str, ...] = ()  # instants holding more rows than one page returns

    def progress(self, spec: JobSpec) -> float:
        """Share of the time range read (pages go from ``end`` back to ``start``)."""
        if self.state == "done":
            return 1.0
        if self.upper is None:
            return 0.0
        span = (spec.end - spec.start).total_seconds()
        return min(1.0, max(0.0, (spec.end - self.upper).total_seconds() / span))

    def as_dict(self, spec: JobSpec) -> dict[str, Any]:
        return {
            "sensor_id": self.sensor_id,
            "title": self.title,
            "unit": self.unit,
            "state": self.state,
            "rows_read": self.rows_read,
            "published": self.published,
            "rejected": self.rejected,
            "pages": self.pages,
            "cursor": {
                "to": iso(self.upper) if self.upper else None,
                "seen": list(self.seen),
            },
            "capped": list(self.capped),
            "progress": round(self.progress(spec), 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SensorProgress:
        cursor = data.get("cursor") or {}
        return cls(
            sensor_id=data["sensor_id"],
            title=data.get("title", ""),
            unit=data.get("unit", ""),
            state=data.get("state", "pending"),
            rows_read=int(data.get("rows_read", 0)),
            published=int(data.get("published", 0)),
            rejected=int(data.get("rejected", 0)),
            pages=int(data.get("pages", 0)),
            upper=_opt_time(cursor.get("to")),
            seen=tuple(cursor.get("seen") or ()),
            capped=tuple(data.get("capped") or ()),
        )


@dataclass(frozen=True)
class BadRow:
    """A row that could not become a reading: which sensor, the row, and why."""

    sensor_id: str
    row: str  # the row as received (JSON, shortened)
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"sensor_id": self.sensor_id, "row": self.row, "reason": self.reason}


@dataclass
class Job:
    """A backfill job; only the runner changes it, through ``move`` and the counters."""

    id: str
    spec: JobSpec
    created_at: datetime
    updated_at: datetime
    state: State = "queued"
    reason: str | None = None
    owner: str = ""  # the ingest instance running it (see ingest.jobs.lease)
    epoch: int = 0  # how many times the job was claimed; the owner writes at its epoch
    heartbeat_at: datetime | None = None  # the owner's last write: its lease runs from it
    started_at: datetime | None = None
    finished_at: datetime | None = None
    box_name: str | None = None
    sensors: list[SensorProgress] = field(default_factory=list)
    bad_rows: int = 0
    bad_examples: list[BadRow] = field(default_factory=list)
    retries: int = 0

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def move(self, to: State, now: datetime, reason: str | None = None) -> None:
        """Change state as the state machine allows (``JobStateError`` otherwise)."""
        if to not in _ALLOWED[self.state]:
            raise JobStateError(f"job {self.id}: {self.state} -> {to} is not allowed")
        if to == "succeeded" and any(s.state != "done" for s in self.sensors):
            raise JobStateError(f"job {self.id}: cannot succeed with sensors left to read")
        self.state = to
        self.reason = reason
        self.updated_at = now
        if to == "running" and self.started_at is None:
            self.started_at = now
        if to in FINISHED:
            self.finished_at = now

    def bad(self, row: BadRow) -> None:
        self.bad_rows += 1
        if len(self.bad_examples) < MAX_EXAMPLES:
            self.bad_examples.append(row)

    def totals(self) -> dict[str, Any]:
        count = len(self.sensors)
        return {
            "sensors": count,
            "sensors_done": sum(s.state == "done" for s in self.sensors),
            "rows_read": sum(s.rows_read for s in self.sensors),
            "published": sum(s.published for s in self.sensors),
            "rejected": sum(s.rejected for s in self.sensors),
            "pages": sum(s.pages for s in self.sensors),
            "progress": round(sum(s.progress(self.spec) for s in self.sensors) / count, 4)
            if count
            else (1.0 if self.state == "succeeded" else 0.0),
        }

    def as_dict(self) -> dict[str, Any]:
        def opt(moment: datetime | None) -> str | None:
            return iso(moment) if moment else None

        return {
            "id": self.id,
            **self.spec.as_dict(),
            # "sensors" below is the progress; the spec's own list would be lost under it
            # (a job resumed before it read its box would read every sensor).
            "requested_sensors": list(self.spec.sensors),
            "state": self.state,
            "reason": self.reason,
            "owner": self.owner,
            "epoch": self.epoch,
            "heartbeat_at": opt(self.heartbeat_at),
            "box_name": self.box_name,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": opt(self.started_at),
            "finished_at": opt(self.finished_at),
            "totals": self.totals(),
            "sensors": [s.as_dict(self.spec) for s in self.sensors],
            "bad_rows": {
                "count": self.bad_rows,
                "examples": [b.as_dict() for b in self.bad_examples],
            },
            "retries": self.retries,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        if data.get("state") not in _ALLOWED:
            raise ValueError(f"unknown job state {data.get('state')!r}")
        bad = data.get("bad_rows") or {}
        return cls(
            id=data["id"],
            spec=JobSpec.from_dict({**data, "sensors": data.get("requested_sensors") or ()}),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            state=cast(State, data["state"]),
            reason=data.get("reason"),
            owner=data.get("owner", ""),
            epoch=int(data.get("epoch", 0)),
            heartbeat_at=_opt_time(data.get("heartbeat_at")),
            started_at=_opt_time(data.get("started_at")),
            finished_at=_opt_time(data.get("finished_at")),
            box_name=data.get("box_name"),
            sensors=[SensorProgress.from_dict(s) for s in data.get("sensors") or ()],
            bad_rows=int(bad.get("count", 0)),
            bad_examples=[BadRow(**b) for b in bad.get("examples") or ()],
            retries=int(data.get("retries", 0)),
        )

    def copy(self) -> Job:
        """A snapshot safe to hand out while the runner keeps changing the original."""
        return replace(
            self,
            sensors=[replace(s) for s in self.sensors],
            bad_examples=list(self.bad_examples),
        )
