"""The jobs topic store on real Kafka: every record in order, across store instances
(what another replica, or a restarted ingest, reads), and each read goes on from the last."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ingest.jobs.errors import StoreError
from ingest.jobs.kafka_store import KafkaJobStore
from ingest.jobs.model import Job, JobSpec, SensorProgress
from iotpipe.kafka_admin import KafkaTopicAdmin
from tests.scratch import Scratch

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_new_store_reads_the_latest_state_of_every_job(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    topic = scratch.topic_name("it-jobs-store")
    spec = JobSpec("57000b8745fd40c8196ad04c", AT, AT + timedelta(days=1), "http://x")

    async def write() -> None:
        store = KafkaJobStore(endpoints["kafka"], topic)
        assert await store.read() == []  # creates the topic
        for name in ("a", "b"):
            job = Job(id=name, spec=spec, created_at=AT, updated_at=AT)
            await store.save(job)
            job.move("running", AT)
            job.sensors = [SensorProgress("5" * 24, published=10, upper=AT + timedelta(hours=5))]
            await store.save(job)
        await store.close()

    async def read() -> tuple[list[Job], list[Job]]:
        store = KafkaJobStore(endpoints["kafka"], topic)
        try:
            first = await store.read()
            job = Job(id="c", spec=spec, created_at=AT, updated_at=AT)
            writer = KafkaJobStore(endpoints["kafka"], topic)  # another replica
            await writer.save(job)
            await writer.close()
            return first, await store.read()
        finally:
            await store.close()

    asyncio.run(write())
    records, then = asyncio.run(read())
    assert [(j.id, j.state) for j in records] == [
        ("a", "queued"), ("a", "running"), ("b", "queued"), ("b", "running"),
    ]  # fmt: skip
    assert [j.id for j in then] == ["c"]  # the next read: only what was written since
    jobs = records[1::2]
    assert jobs[0].sensors[0].upper == AT + timedelta(hours=5)
    assert jobs[0].sensors[0].published == 10
    state = KafkaTopicAdmin(endpoints["kafka"]).describe([topic])[topic]
    assert (state.partitions, state.configs["cleanup.policy"]) == (1, "compact")


def test_a_jobs_topic_that_is_not_compacted_is_refused(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    topic = scratch.topic("it-jobs-delete")

    with pytest.raises(StoreError, match=r"cleanup\.policy=delete, so job state would expire"):
        asyncio.run(_read_once(endpoints["kafka"], topic))


def test_a_jobs_topic_of_several_partitions_is_refused(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    """Replicas agree on who claimed a job first only if they read one log in one order."""
    topic = scratch.topic("it-jobs-parts", partitions=3, config={"cleanup.policy": "compact"})

    with pytest.raises(StoreError, match="has 3 partitions; it needs one"):
        asyncio.run(_read_once(endpoints["kafka"], topic))


async def _read_once(kafka: str, topic: str) -> None:
    """Open a store on ``topic``, read it once, close it (what a starting replica does)."""
    store = KafkaJobStore(kafka, topic)
    try:
        await store.read()
    finally:
        await store.close()
