"""Several replicas on one jobs log (MemoryJobStore.replica): the claim rule, a race for
an expired lease that exactly one replica wins, listing another replica's jobs, and a
cancel from another replica that stops the owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from ingest.jobs.lease import expired, supersedes
from ingest.jobs.model import Job, State
from ingest.jobs.runner import JobRunner
from ingest.jobs.store import MemoryJobStore
from tests.unit.jobs.fake_api import TEMPERATURE
from tests.unit.jobs.harness import START, Harness, job_settings, spec
from tests.unit.jobs.test_runner import rows_api


def job(owner: str, epoch: int, state: State = "running") -> Job:
    made = Job(id="j", spec=spec(TEMPERATURE), created_at=START, updated_at=START)
    made.owner, made.epoch, made.state = owner, epoch, state
    return made


@pytest.mark.parametrize(
    ("current", "record", "taken"),
    [
        (None, job("a", 1), True),  # a new job
        (job("a", 1), job("a", 1), True),  # the owner's progress
        (job("a", 1), job("b", 1), False),  # not the owner of this epoch
        (job("a", 1), job("b", 2), True),  # a claim: the first of its epoch
        (job("b", 2), job("c", 2), False),  # a second claim of that epoch lost the race
        (job("b", 2), job("a", 1), False),  # the old owner, waking up
        (job("a", 1, "succeeded"), job("b", 2), False),  # finished is final
    ],
)
def test_the_claim_rule(current: Job | None, record: Job, taken: bool) -> None:
    assert supersedes(current, record) is taken


def test_a_lease_runs_from_the_last_heartbeat() -> None:
    held = job("a", 1)
    held.heartbeat_at = START + timedelta(seconds=10)
    assert not expired(held, START + timedelta(seconds=14), lease_seconds=5)
    assert expired(held, START + timedelta(seconds=16), lease_seconds=5)
    held.heartbeat_at = None  # a record written before leases: its last change counts
    assert expired(held, START + timedelta(seconds=6), lease_seconds=5)


class RacingStore(MemoryJobStore):
    """Yields before each write reaches the log, so two replicas can both decide on the
    same state before either's claim is there (the race the claim rule settles)."""

    async def save(self, job: Job) -> None:
        await asyncio.sleep(0)
        await super().save(job)

    def replica(self) -> RacingStore:
        return RacingStore(self.writes)


def test_two_replicas_racing_for_an_expired_job_resume_it_exactly_once() -> None:
    log = RacingStore()
    dead = job("a", 1)
    dead.heartbeat_at = START  # long ago: a's lease ran out
    log.writes.append(dead.as_dict())
    b = Harness(rows_api(), settings=job_settings(jobs_instance="b"), store=log.replica())
    c = Harness(rows_api(), settings=job_settings(jobs_instance="c"), store=log.replica())

    async def go() -> tuple[Job, Job]:
        runners = [b.runner(), c.runner()]
        await asyncio.gather(*(r.start() for r in runners))
        done = [await r.join("j") for r in runners]
        for r in runners:
            await r.close()
        return done[0], done[1]

    from_b, from_c = asyncio.run(go())
    claims = [w for w in log.writes if w["epoch"] == 2 and w["state"] == "queued"]
    assert [w["owner"] for w in claims] == ["b", "c"]  # both claimed: a real race
    assert (from_b.state, from_b.owner) == ("succeeded", "b")
    assert (from_c.owner, from_c.epoch) == ("b", 2)  # c sees b's job, not its own claim
    assert len(b.published()) == 25  # b ran it, every row once
    assert c.published() == []  # c never started it
    assert [w["owner"] for w in log.writes if w["epoch"] == 2].count("c") == 1  # its claim


def two_replicas() -> tuple[Harness, Harness]:
    """Replicas a and b on one log; a's job source waits after its first page."""
    a = Harness(rows_api(), gate_after=1)
    return a, Harness(rows_api(), settings=job_settings(jobs_instance="b"), store=a.store.replica())


@asynccontextmanager
async def a_job_on_a(a: Harness, b: Harness) -> AsyncIterator[tuple[JobRunner, JobRunner, Job]]:
    """Both runners started and a job submitted on a, its page 1 published and saved."""
    runner_a, runner_b = a.runner(), b.runner()
    await runner_a.start()
    await runner_b.start()
    try:
        started = await runner_a.submit(spec(TEMPERATURE))
        while not a.sources:
            await asyncio.sleep(0)
        await a.sources[0].waiting.wait()
        yield runner_a, runner_b, started
    finally:
        await runner_a.close()
        await runner_b.close()


def test_a_replica_lists_and_shows_the_jobs_another_runs() -> None:
    a, b = two_replicas()

    async def go() -> tuple[list[Job], Job]:
        async with a_job_on_a(a, b) as (_, runner_b, started):
            return await runner_b.list(), await runner_b.get(started.id)

    listed, seen = asyncio.run(go())
    assert [(j.owner, j.state) for j in listed] == [("test-a", "running")]
    assert seen.totals()["published"] == 10  # a's saved progress
    assert seen.heartbeat_at is not None
    assert b.published() == []  # a's lease is fresh: b leaves the job alone


def test_a_job_cancelled_from_another_replica_stops_its_owner() -> None:
    a, b = two_replicas()

    async def go() -> tuple[Job, Job, int]:
        async with a_job_on_a(a, b) as (runner_a, runner_b, started):
            cancelled = await runner_b.cancel(started.id)
            writes = len(a.store.writes)
            await runner_a.tend()  # a reads b's record: the job is not a's any more
            a.sources[0].gate.set()  # its page would come now
            from_a = await runner_a.join(started.id)
            await asyncio.sleep(0)
            return cancelled, from_a, len(a.store.writes) - writes

    cancelled, from_a, after = asyncio.run(go())
    assert (cancelled.state, cancelled.owner, cancelled.epoch) == ("cancelled", "b", 2)
    assert (from_a.state, from_a.owner) == ("cancelled", "b")
    assert after == 0  # a stopped without writing
    assert len(a.published()) == 10  # page 1 only


def test_a_record_keeps_the_sensors_asked_for_beside_their_progress() -> None:
    """A replica taking a job over before it read its box reads only the sensors asked."""
    asked = Job(id="j", spec=spec(TEMPERATURE), created_at=START, updated_at=START)
    assert Job.from_dict(asked.as_dict()).spec.sensors == (TEMPERATURE,)
