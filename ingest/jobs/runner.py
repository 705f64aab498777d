"""Runs backfill jobs as asyncio tasks inside ingest, and keeps their state durable.

Every state change and every page is saved to the store *after* Kafka acknowledged the
page's readings, so a saved cursor never runs ahead of what was published; a restart
resumes each unfinished job from its cursor (at worst one page is published twice, with
the same event ids). A job succeeds only when every sensor's range was read and every
reading acknowledged; source and Kafka failures are retried with backoff, then the job
fails with the reason. Shutting down is not cancelling: the job stays ``running`` in the
store and the next start resumes it.

Several replicas: each job names its ``owner`` (``jobs_instance``, the host name by
default). At start an instance resumes only its own unfinished jobs, unowned ones, and
those whose owner has not written for ``jobs_lease_seconds``. Kafka offers no
compare-and-set, so two instances starting at the same moment could both take over a
dead one's job: harmless for the data (the same event ids), confusing for the counts.
Each instance serves the jobs it loaded at start plus those it runs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from ingest.domain.accept import Policy
from ingest.domain.service import IngestService
from ingest.jobs.errors import JobError, JobNotFound, JobsUnavailable, StoreError
from ingest.jobs.execute import Execution
from ingest.jobs.model import Job, JobSpec
from ingest.jobs.retry import Backoff, Sleep
from ingest.jobs.source import MeasurementSource, OsemSource
from ingest.jobs.store import JobStore, MemoryJobStore
from ingest.settings import IngestSettings

__all__ = ["JobPorts", "JobRunner"]

log = logging.getLogger("iotpipe.ingest.jobs")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobPorts:
    """What the runner talks to; tests pass fakes, a fake clock and a sleep that records."""

    store: JobStore
    source: Callable[[str], MeasurementSource]  # base URL -> source
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], datetime] = field(default=_now)

    @classmethod
    def default(cls, settings: IngestSettings, store: JobStore | None = None) -> JobPorts:
        timeout = settings.jobs_source_timeout_seconds
        return cls(
            store=store or MemoryJobStore(),
            source=lambda url: OsemSource(url, timeout=timeout),
        )


class JobRunner:
    def __init__(
        self,
        *,
        settings: IngestSettings,
        service: IngestService,
        model: type[BaseModel],
        ports: JobPorts,
    ) -> None:
        self.settings = settings
        self._service = service
        self._model = model
        self._ports = ports
        self._store = ports.store
        self._policy = Policy(timedelta(seconds=settings.max_future_skew_seconds), None)
        self.backoff = Backoff(
            attempts=settings.jobs_retry_attempts,
            base=settings.jobs_retry_base_seconds,
            cap=settings.jobs_retry_cap_seconds,
        )
        self._execution = Execution(
            settings=settings,
            service=service,
            model=model,
            policy=self._policy,
            backoff=self.backoff,
            sleep=ports.sleep,
            save=self._save,
        )
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()
        self._slots = asyncio.Semaphore(settings.jobs_concurrency)
        self._problem: str | None = None  # why job state is not loaded (None: it is)
        self._loader: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Load every job and resume the unfinished ones this instance may take. If the
        store cannot be read, ingest still starts (live data does not need jobs): the job
        routes answer 503 and loading is retried in the background."""
        if self.settings.worker_index > 0:
            # A secondary worker process: jobs run in the primary (worker 0), to which
            # this worker forwards the job operations (ingest.api.forward).
            self._problem = (
                f"backfill jobs run in the primary worker; this is worker "
                f"{self.settings.worker_index}"
            )
            return
        try:
            await self._load()
        except StoreError as exc:
            log.error("jobs: cannot load job state (%s); retrying in the background", exc)
            self._problem = f"job state not loaded: {exc.detail}"
            self._loader = asyncio.create_task(self._load_later(), name="jobs-load")

    async def _load_later(self) -> None:
        attempt = 1
        while True:
            await self._ports.sleep(self.backoff.delay(attempt))
            try:
                await self._load()
            except StoreError as exc:
                self._problem = f"job state not loaded: {exc.detail}"
                attempt += 1
                continue
            self._problem = None
            log.info("jobs: job state loaded")
            return

    def _ready(self) -> None:
        if self._problem is not None:
            raise JobsUnavailable(f"backfill jobs are unavailable: {self._problem}")

    async def _load(self) -> None:
        for job in await self._store.load():
            self._jobs[job.id] = job
            if job.finished or not self._may_take(job):
                continue
            if job.state == "running":
                job.move("queued", self._ports.clock(), "resumed after a restart")
            job.owner = self.settings.jobs_instance
            await self._store.save(job)
            self._schedule(job)

    def _may_take(self, job: Job) -> bool:
        """Our own jobs (same instance name), unowned ones, and those whose owner has
        not written for longer than the lease (it is presumed dead)."""
        if job.owner in ("", self.settings.jobs_instance):
            return True
        silent = (self._ports.clock() - job.updated_at).total_seconds()
        return silent > self.settings.jobs_lease_seconds

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        if self._loader is not None:
            tasks.append(self._loader)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._store.close()

    async def join(self, job_id: str) -> Job:
        """Wait until the job's task has ended (tests, and ``--wait`` style callers)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])
        return self.get(job_id)

    # -- requests ----------------------------------------------------------------------
    async def submit(self, spec: JobSpec) -> Job:
        self._ready()
        now = self._ports.clock()
        job = Job(
            id=uuid.uuid4().hex,
            spec=spec,
            created_at=now,
            updated_at=now,
            owner=self.settings.jobs_instance,
        )
        await self._store.save(job)
        self._jobs[job.id] = job
        self._schedule(job)
        return job.copy()

    def get(self, job_id: str) -> Job:
        self._ready()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        return job.copy()

    def list(self) -> list[Job]:
        self._ready()
        jobs = sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)
        return [j.copy() for j in jobs]

    async def cancel(self, job_id: str) -> Job:
        """Stop the job and mark it cancelled; a finished job is returned as it is."""
        self._ready()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            self._cancelling.add(job_id)
            task.cancel()
            await asyncio.wait([task])
        elif not job.finished:  # not running here (another instance's, or never started)
            job.move("cancelled", self._ports.clock(), "cancelled by request")
            await self._store.save(job)
        return job.copy()

    # -- running -----------------------------------------------------------------------
    def _schedule(self, job: Job) -> None:
        task = asyncio.create_task(self._guarded(job), name=f"job-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job.id, None))

    async def _guarded(self, job: Job) -> None:
        try:
            async with self._slots:
                await self._run(job)
        except asyncio.CancelledError:
            if job.id not in self._cancelling:
                raise  # shutting down: the saved state is resumed at the next start
            self._cancelling.discard(job.id)
            await self._end(job, "cancelled", "cancelled by request")
        except (JobError, StoreError) as exc:
            await self._end(job, "failed", exc.detail)
        except Exception as exc:  # a job must end in a state, never vanish
            log.exception("job %s failed unexpectedly", job.id)
            await self._end(job, "failed", f"internal error: {type(exc).__name__}: {exc}")

    async def _end(self, job: Job, state: Any, reason: str) -> None:
        job.move(state, self._ports.clock(), reason)
        try:
            await self._store.save(job)
        except StoreError as exc:
            log.error("job %s ended %s but its state could not be saved: %s", job.id, state, exc)

    async def _save(self, job: Job) -> None:
        job.updated_at = self._ports.clock()
        await self._store.save(job)

    async def _run(self, job: Job) -> None:
        job.move("running", self._ports.clock())
        await self._store.save(job)
        source = self._ports.source(job.spec.source)
        try:
            await self._execution.run(job, source)
        finally:
            await source.close()
        job.move("succeeded", self._ports.clock())
        await self._store.save(job)
