"""One page's rows as readings, through the same ``IngestService`` as live data.

Readings go out in chunks; rows the contract refuses are counted and reported as bad
rows (not fatal); readings Kafka did not acknowledge are sent again (same event ids)
with backoff, and if Kafka still refuses, the job fails: it never reports success for
readings that were not acknowledged.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel

from ingest.domain.accept import Policy
from ingest.domain.service import IngestService
from ingest.jobs.errors import PublishFailed
from ingest.jobs.model import BadRow, Job, SensorProgress
from ingest.jobs.paging import Step
from ingest.jobs.retry import Backoff, Sleep
from ingest.opensensemap.readings import to_readings
from iotpipe.devices.boxes import Box

__all__ = ["publish_rows", "shorten"]


def shorten(raw: Any, limit: int = 200) -> str:
    text = json.dumps(raw, default=str, ensure_ascii=False)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


async def publish_rows(
    *,
    service: IngestService,
    model: type[BaseModel],
    policy: Policy,
    backoff: Backoff,
    sleep: Sleep,
    chunk: int,
    job: Job,
    box: Box,
    progress: SensorProgress,
    step: Step,
    trace: str,
) -> None:
    """Publish the step's fresh rows, count them, and record its bad rows on the job.

    Chunks go out concurrently (a TaskGroup): while one waits for Kafka's acknowledgement
    the next is validated. It returns once every chunk is acknowledged; if one fails for
    good, the others are cancelled and the error ends the job.
    """
    sensor = progress.sensor_id
    for raw, reason in step.bad:
        job.bad(BadRow(sensor, shorten(raw), reason))
        progress.rejected += 1
    readings = to_readings(box, [row.measurement(sensor) for row in step.fresh])

    async def one(pending: list[dict[str, Any]]) -> None:
        attempt = 1
        while pending:
            results = await service.submit(pending, model, devices=None, trace=trace, policy=policy)
            failed = []
            for result in results:
                if result.status == "accepted":
                    progress.published += 1
                elif result.status == "rejected":
                    progress.rejected += 1
                    why = "; ".join(f"{e.pointer or '/'}: {e.message}" for e in result.errors)
                    job.bad(BadRow(sensor, shorten(pending[result.index]), why))
                else:
                    failed.append(result)
            if not failed:
                return
            if attempt >= backoff.attempts:
                detail = failed[0].failure.detail if failed[0].failure else "not acknowledged"
                raise PublishFailed(
                    f"{len(failed)} readings of sensor {sensor} were not acknowledged by "
                    f"Kafka after {attempt} attempts ({detail})"
                )
            retry_after = max(
                (float(r.failure.retry_after) for r in failed if r.failure), default=None
            )
            job.retries += 1
            await sleep(backoff.delay(attempt, retry_after))
            attempt += 1
            pending = [pending[r.index] for r in failed]

    try:
        async with asyncio.TaskGroup() as group:
            for first in range(0, len(readings), chunk):
                group.create_task(one(readings[first : first + chunk]))
    except BaseExceptionGroup as exc:  # one chunk's error is the job's
        raise exc.exceptions[0] from None
