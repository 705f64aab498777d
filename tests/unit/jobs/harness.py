"""A job runner over fakes: the fake API (MockTransport), MemoryPublisher, MemoryJobStore,
and a sleep that records instead of waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from generated.models.sensor_reading import SensorReading
from ingest.domain.service import IngestService
from ingest.jobs.model import Job, JobSpec
from ingest.jobs.runner import JobPorts, JobRunner
from ingest.jobs.source import MeasurementSource, OsemSource
from ingest.jobs.store import MemoryJobStore
from ingest.metrics import IngestMetrics
from ingest.publisher import Failed, Outcome
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from tests.unit.jobs.fake_api import BOX_ID, FakeApi

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=2)


def job_settings(**changes: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "jobs_page_rows": 10,
        "jobs_chunk_records": 4,
        "jobs_retry_attempts": 3,
        "jobs_retry_base_seconds": 1.0,
        "jobs_instance": "test-a",
        "jobs_allowed_sources": ["http://source.test"],
    }
    return IngestSettings(**{**values, **changes})


def spec(*sensors: str, start: datetime = START, end: datetime = END) -> JobSpec:
    return JobSpec(BOX_ID, start, end, "http://source.test", tuple(sensors))


class FlakyPublisher(MemoryPublisher):
    """Fails every record of the first ``failing`` publish calls, then delivers."""

    def __init__(self, failing: int) -> None:
        super().__init__()
        self.failing = failing

    async def publish(self, records: Sequence[BaseModel], *, trace: str) -> list[Outcome]:
        if self.failing > 0:
            self.failing -= 1
            return [Failed("unavailable", "kafka: broker down", 2) for _ in records]
        return await super().publish(records, trace=trace)


class GatedSource:
    """Passes through; data calls after the first ``open_calls`` wait for ``gate``."""

    def __init__(self, inner: MeasurementSource, open_calls: int) -> None:
        self.inner = inner
        self.open_calls = open_calls
        self.calls = 0
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def box(self, box_id: str) -> dict[str, Any]:
        return await self.inner.box(box_id)

    async def measurements(
        self, box_id: str, sensor_id: str, start: datetime, end: datetime
    ) -> list[Any]:
        self.calls += 1
        if self.calls > self.open_calls:
            self.waiting.set()
            await self.gate.wait()
        return await self.inner.measurements(box_id, sensor_id, start, end)

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class Harness:
    api: FakeApi
    settings: IngestSettings = field(default_factory=job_settings)
    store: MemoryJobStore = field(default_factory=MemoryJobStore)
    publisher: MemoryPublisher = field(default_factory=MemoryPublisher)
    gate_after: int | None = None  # data calls let through before the gate closes
    slept: list[float] = field(default_factory=list)
    sources: list[GatedSource] = field(default_factory=list)

    def source(self, url: str) -> MeasurementSource:
        real = OsemSource(url, transport=self.api.transport())
        if self.gate_after is None:
            return real
        gated = GatedSource(real, self.gate_after)
        self.sources.append(gated)
        return gated

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)

    def runner(self) -> JobRunner:
        service = IngestService(
            publisher=self.publisher,
            metrics=IngestMetrics(lambda: 0),
            max_future_skew=timedelta(minutes=5),
            max_age=timedelta(days=7),
        )
        ports = JobPorts(store=self.store, source=self.source, sleep=self.sleep)
        return JobRunner(settings=self.settings, service=service, model=SensorReading, ports=ports)

    def published(self) -> list[SensorReading]:
        return [r for r, _ in self.publisher.published if isinstance(r, SensorReading)]

    def states(self, job_id: str) -> list[str]:
        return [w["state"] for w in self.store.writes if w["id"] == job_id]


def run_job(harness: Harness, job_spec: JobSpec) -> Job:
    async def go() -> Job:
        runner = harness.runner()
        await runner.start()
        job = await runner.submit(job_spec)
        done = await runner.join(job.id)
        await runner.close()
        return done

    return asyncio.run(go())
