"""What a job does once it runs: read the box, then page through each sensor's range,
publishing every page and saving the cursor after Kafka acknowledged it.

Kept apart from the runner (which owns the lifecycle: scheduling, cancelling, ending in
a state) so each can be read on its own. Every source call is retried with backoff;
what is still failing after the last attempt ends the job (the runner records why).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from pydantic import BaseModel

from ingest.domain.accept import Policy
from ingest.domain.service import IngestService
from ingest.jobs.errors import SourceError
from ingest.jobs.model import Job, SensorProgress
from ingest.jobs.paging import advance, window
from ingest.jobs.publish import publish_rows
from ingest.jobs.retry import Backoff, Sleep, retrying
from ingest.jobs.source import MeasurementSource
from ingest.settings import IngestSettings
from iotpipe.devices.boxes import Box
from iotpipe.errors import ConfigError

__all__ = ["Execution"]

log = logging.getLogger("iotpipe.ingest.jobs")
T = TypeVar("T")


@dataclass(frozen=True)
class Execution:
    settings: IngestSettings
    service: IngestService
    model: type[BaseModel]
    policy: Policy  # the live policy without its past limit: backfills carry old data
    backoff: Backoff
    sleep: Sleep
    save: Callable[[Job], Awaitable[None]]

    async def run(self, job: Job, source: MeasurementSource) -> None:
        """Read every sensor not yet done; returns only when all of them are."""
        box = await self._box(job, source)
        for progress in job.sensors:
            if progress.state != "done":
                await self._read_sensor(job, box, progress, source)

    async def _retry(self, job: Job, call: Callable[[], Awaitable[T]]) -> T:
        def note(exc: SourceError, wait: float) -> None:
            job.retries += 1
            job.reason = f"retrying in {wait:g}s: {exc.detail}"  # shown while it lasts
            log.warning("job %s: %s; retrying in %.1fs", job.id, exc.detail, wait)

        return await retrying(call, self.backoff, self.sleep, note)

    async def _box(self, job: Job, source: MeasurementSource) -> Box:
        spec = job.spec
        raw = await self._retry(job, partial(source.box, spec.box_id))
        try:
            box = Box.from_osem(raw)
        except ConfigError as exc:
            raise SourceError(f"the source's box is not usable: {exc}", retryable=False) from exc
        if box.id != spec.box_id:
            raise SourceError(f"the source answered with box {box.id}", retryable=False)
        if not job.sensors:  # a resumed job keeps the progress it has
            wanted = spec.sensors or tuple(s.id for s in box.sensors)
            missing = [s for s in wanted if box.sensor(s) is None]
            if missing:
                raise SourceError(
                    f"box {box.id} has no sensor {', '.join(missing)}", retryable=False
                )
            sensors = [box.sensor(s) for s in wanted]
            job.sensors = [SensorProgress(s.id, s.title, s.unit) for s in sensors if s]
        job.box_name = box.name
        await self.save(job)
        return box

    async def _read_sensor(
        self, job: Job, box: Box, progress: SensorProgress, source: MeasurementSource
    ) -> None:
        spec, settings = job.spec, self.settings
        span = timedelta(days=settings.jobs_window_days)
        trace = f"00-{job.id}-{secrets.token_hex(8)}-01"  # one trace id per job
        progress.state = "running"
        upper: datetime | None = progress.upper or spec.end
        while upper is not None:
            page = window(spec.start, upper, span)
            raws = await self._retry(
                job,
                partial(source.measurements, box.id, progress.sensor_id, page.start, page.end),
            )
            step = advance(
                raws, page, progress.seen, start=spec.start, page_rows=settings.jobs_page_rows
            )
            await publish_rows(
                service=self.service,
                model=self.model,
                policy=self.policy,
                backoff=self.backoff,
                sleep=self.sleep,
                chunk=settings.jobs_chunk_records,
                job=job,
                box=box,
                progress=progress,
                step=step,
                trace=trace,
            )
            progress.rows_read += len(step.fresh) + len(step.bad)
            progress.pages += 1
            progress.upper, progress.seen = step.upper, step.seen
            if step.capped:
                progress.capped = (*progress.capped, step.capped)
            if step.upper is None:
                progress.state = "done"
            job.reason = None
            await self.save(job)  # after Kafka acknowledged the page: never ahead of it
            upper = step.upper
