"""Runs backfill jobs as asyncio tasks inside ingest, and keeps their state durable.

Every state change and every page is saved to the store *after* Kafka acknowledged the
page's readings, so a saved cursor never runs ahead of what was published; a restart
resumes each unfinished job from its cursor (at worst one page is published twice, with
the same event ids). A job succeeds only when every sensor's range was read and every
reading acknowledged; source and Kafka failures are retried with backoff, then the job
fails with the reason. Shutting down is not cancelling: the job stays ``running`` in the
store and the next start resumes it.

Several replicas: each job names its ``owner`` (``jobs_instance``, the host name by
default) and the ``epoch`` it holds. Every replica reads the jobs topic (at start, then
every second, and before answering a request), so each shows every job; the owner
renews its lease by writing its last checkpoint again; a replica claims a job whose
owner has been silent for ``jobs_lease_seconds``, and runs it only if its claim came
first in the log (ingest.jobs.lease), so exactly one replica resumes it.
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
from ingest.jobs.lease import expired, supersedes
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
        self._known: dict[str, Job] = {}  # every job as the topic says (folded, by id)
        self._mine: dict[str, Job] = {}  # the jobs this instance owns: the live objects
        self._saved: dict[str, Job] = {}  # each one's last record written (its checkpoint)
        self._reading = asyncio.Lock()  # one fold at a time
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()
        self._lost: set[str] = set()  # claimed by another replica: stopped, not ended
        self._slots = asyncio.Semaphore(settings.jobs_concurrency)
        self._problem: str | None = None  # why job state is not loaded (None: it is)
        self._loader: asyncio.Task[None] | None = None
        self._tender: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Read the jobs topic and take the unfinished jobs this instance may take, then
        keep doing so (``tend``) every second (a quarter of the lease if shorter). If the
        store cannot be read, ingest still starts (live data does not need jobs): the job
        routes answer 503 and reading is retried in the background."""
        if self.settings.worker_index > 0:
            # A secondary worker process: jobs run in the primary (worker 0), to which
            # this worker forwards the job operations (ingest.api.forward).
            self._problem = (
                f"backfill jobs run in the primary worker; this is worker "
                f"{self.settings.worker_index}"
            )
            return
        try:
            await self.tend()
        except StoreError as exc:
            log.error("jobs: cannot load job state (%s); retrying in the background", exc)
            self._problem = f"job state not loaded: {exc.detail}"
            self._loader = asyncio.create_task(self._load_later(), name="jobs-load")
            return
        self._tender = asyncio.create_task(self._tend_forever(), name="jobs-tend")

    async def _load_later(self) -> None:
        attempt = 1
        while True:
            await self._ports.sleep(self.backoff.delay(attempt))
            try:
                await self.tend()
            except StoreError as exc:
                self._problem = f"job state not loaded: {exc.detail}"
                attempt += 1
                continue
            self._problem = None
            log.info("jobs: job state loaded")
            self._tender = asyncio.create_task(self._tend_forever(), name="jobs-tend")
            return

    async def _tend_forever(self) -> None:
        interval = min(1.0, self.settings.jobs_lease_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tend()
            except StoreError as exc:  # the next round tries again; leases run on
                log.warning("jobs: cannot read or write job state: %s", exc)
            except Exception:  # the loop must outlive any one round
                log.exception("jobs: a round of reading and claiming failed")

    def _ready(self) -> None:
        if self._problem is not None:
            raise JobsUnavailable(f"backfill jobs are unavailable: {self._problem}")

    async def tend(self) -> None:
        """One round: read what every replica wrote, renew the lease of the jobs this
        instance holds, and claim those it may take (see ``_may_take``)."""
        await self._sync()
        now = self._ports.clock()
        renew_after = self.settings.jobs_lease_seconds / 3
        for job_id, saved in list(self._saved.items()):
            if job_id not in self._mine or saved.finished:
                continue
            last = saved.heartbeat_at or saved.updated_at
            if (now - last).total_seconds() >= renew_after:
                await self._write(saved.copy())
        for job in list(self._known.values()):
            if not job.finished and job.id not in self._mine and self._may_take(job, now):
                await self._claim(job)

    async def _sync(self) -> None:
        """Fold the records written since the last read into ``_known``; a job this
        instance runs that another replica claimed (or cancelled) is stopped here, without
        writing: it is not ours any more."""
        async with self._reading:
            records = await self._store.read()
            for record in records:
                if not supersedes(self._known.get(record.id), record):
                    continue
                self._known[record.id] = record
                mine = self._mine.get(record.id)
                if mine is not None and (record.owner, record.epoch) != (mine.owner, mine.epoch):
                    self._lose(mine, record)

    def _lose(self, job: Job, winner: Job) -> None:
        log.warning(
            "job %s: taken by %s (epoch %d, %s); stopping it here",
            job.id, winner.owner, winner.epoch, winner.state,
        )  # fmt: skip
        self._mine.pop(job.id, None)
        self._saved.pop(job.id, None)
        task = self._tasks.get(job.id)
        if task is not None and not task.done():
            self._lost.add(job.id)
            task.cancel()

    def _may_take(self, job: Job, now: datetime) -> bool:
        """Unowned jobs, our own (same instance name: we restarted), and those whose owner
        has not written for longer than the lease (it is presumed dead)."""
        if job.owner in ("", self.settings.jobs_instance):
            return True
        return expired(job, now, self.settings.jobs_lease_seconds)

    async def _claim(self, job: Job) -> None:
        """Write a claim at the next epoch, read the log to its end, and run the job only
        if the claim came first (ingest.jobs.lease)."""
        now = self._ports.clock()
        claim = job.copy()
        previous = claim.owner
        claim.epoch += 1
        claim.owner = self.settings.jobs_instance
        if claim.state == "running":
            reason = (
                "resumed after a restart"
                if previous == claim.owner
                else f"taken over: {previous or 'no owner'} silent past its lease"
            )
            claim.move("queued", now, reason)
        await self._write(claim)
        await self._sync()
        current = self._known.get(job.id)
        if current is None or (current.owner, current.epoch) != (claim.owner, claim.epoch):
            self._saved.pop(job.id, None)
            log.info("job %s: another replica claimed it first", job.id)
            return
        log.info("job %s: claimed (epoch %d) from %s", job.id, claim.epoch, previous or "-")
        self._mine[job.id] = claim
        self._schedule(claim)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for extra in (self._loader, self._tender):
            if extra is not None:
                tasks.append(extra)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._store.close()

    async def join(self, job_id: str) -> Job:
        """Wait until the job's task has ended (tests, and ``--wait`` style callers)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])
        return self._view(job_id)

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
            epoch=1,
        )
        await self._write(job)
        self._mine[job.id] = job
        self._schedule(job)
        return job.copy()

    async def get(self, job_id: str) -> Job:
        """The job as the jobs topic says now (read to its end first), whoever runs it."""
        self._ready()
        await self._sync()
        return self._view(job_id)

    async def list(self) -> list[Job]:
        """Every job of every replica, newest first (the topic read to its end first)."""
        self._ready()
        await self._sync()
        jobs = {**self._known, **self._mine}  # ours: the live state, ahead of its record
        ordered = sorted(jobs.values(), key=lambda j: j.created_at, reverse=True)
        return [j.copy() for j in ordered]

    def _view(self, job_id: str) -> Job:
        job = self._mine.get(job_id) or self._known.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        return job.copy()

    async def cancel(self, job_id: str) -> Job:
        """Stop the job and mark it cancelled; a finished job is returned as it is. A job
        another replica runs is cancelled by a claim (the next epoch, state cancelled):
        its owner sees it lost the job and stops it."""
        self._ready()
        await self._sync()
        job = self._mine.get(job_id) or self._known.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        task = self._tasks.get(job_id)
        if job_id in self._mine and task is not None and not task.done():
            self._cancelling.add(job_id)
            task.cancel()
            await asyncio.wait([task])
        elif not job.finished:  # another instance's, or never started
            claim = job.copy()
            claim.epoch += 1
            claim.owner = self.settings.jobs_instance
            claim.move("cancelled", self._ports.clock(), "cancelled by request")
            await self._write(claim)
            await self._sync()
        return self._view(job_id)

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
            if job.id in self._lost:  # another replica has it now: nothing to write
                self._lost.discard(job.id)
                return
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
            await self._write(job)
        except StoreError as exc:
            log.error("job %s ended %s but its state could not be saved: %s", job.id, state, exc)

    async def _save(self, job: Job) -> None:
        """A checkpoint of a running job (after Kafka acknowledged its page)."""
        job.updated_at = self._ports.clock()
        await self._write(job)

    async def _write(self, job: Job) -> None:
        """Every write of this instance: stamped with the heartbeat (the lease runs from
        it), and kept as the last checkpoint, which the lease renewal writes again (never
        the live job, whose counters may be ahead of its saved cursor)."""
        job.heartbeat_at = self._ports.clock()
        self._saved[job.id] = job.copy()
        await self._store.save(job)

    async def _run(self, job: Job) -> None:
        job.move("running", self._ports.clock())
        await self._write(job)
        source = self._ports.source(job.spec.source)
        try:
            await self._execution.run(job, source)
        finally:
            await source.close()
        job.move("succeeded", self._ports.clock())
        await self._write(job)
