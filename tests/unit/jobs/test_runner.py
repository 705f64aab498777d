"""The job runner over fakes: what it publishes, what it saves and when, how it retries,
fails, is cancelled, and resumes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.jobs.errors import JobsUnavailable
from ingest.jobs.model import Job
from ingest.jobs.store import MemoryJobStore
from ingest.opensensemap.readings import event_id
from ingest.publisher import Failed
from tests.unit.jobs.fake_api import BOX_ID, HUMIDITY, TEMPERATURE, FakeApi, Fault, ms, series
from tests.unit.jobs.harness import START, FlakyPublisher, Harness, job_settings, run_job, spec


def rows_api() -> FakeApi:
    at = START + timedelta(hours=3)
    same = [{"value": f"{i}.25", "createdAt": ms(at), "location": [7.6, 51.9]} for i in range(4)]
    temperature = [*series(at + timedelta(minutes=1), 8), *same, *series(START, 13)]
    return FakeApi(
        rows={TEMPERATURE: temperature, HUMIDITY: series(START, 3, value=60.0)}, limit=10
    )


def test_a_job_publishes_every_row_of_every_sensor_and_succeeds() -> None:
    harness = Harness(rows_api())
    job = run_job(harness, spec())
    assert job.state == "succeeded", job.reason
    assert len(job.sensors) == 7  # every sensor of the box
    expected = {
        (sensor, row["createdAt"], float(row["value"]))
        for sensor, rows in harness.api.rows.items()
        for row in rows
    }
    published = harness.published()
    assert len(published) == 25 + 3  # the 4 rows sharing an instant included, once each
    got = {(r.sensor_id, ms(r.event_time), r.value) for r in published}
    assert got == expected
    for reading in published:
        assert reading.device_id == BOX_ID
        assert str(reading.event_id) == event_id(BOX_ID, reading.sensor_id, reading.event_time)
    totals = job.totals()
    assert (totals["rows_read"], totals["published"], totals["rejected"]) == (28, 28, 0)
    assert totals["progress"] == 1.0
    temperature = next(s for s in job.sensors if s.sensor_id == TEMPERATURE)
    assert temperature.pages == 3  # 25 rows at 10 a page, the boundary read twice
    assert harness.states(job.id)[:2] == ["queued", "running"]
    assert harness.states(job.id)[-1] == "succeeded"
    assert harness.store.latest[job.id]["state"] == "succeeded"


def test_old_data_is_accepted_although_live_ingest_refuses_it_after_seven_days() -> None:
    old = datetime(2019, 5, 1, tzinfo=UTC)
    api = FakeApi(rows={TEMPERATURE: series(old, 5)})
    harness = Harness(api)
    job = run_job(harness, spec(TEMPERATURE, start=old, end=old + timedelta(days=1)))
    assert job.state == "succeeded"
    assert len(harness.published()) == 5


def test_state_is_saved_after_each_page_and_never_ahead_of_kafka() -> None:
    harness = Harness(rows_api())
    acknowledged_at_save: list[int] = []
    store = harness.store
    original = store.save

    async def save(job: Job) -> None:
        acknowledged_at_save.append(len(harness.publisher.published))
        await original(job)

    store.save = save  # type: ignore[method-assign]
    job = run_job(harness, spec(TEMPERATURE))
    for write, acknowledged in zip(store.writes, acknowledged_at_save, strict=True):
        claimed = sum(s["published"] for s in write["sensors"])
        assert claimed <= acknowledged
    pages = [w for w in store.writes if w["sensors"] and w["sensors"][0]["pages"]]
    assert [w["sensors"][0]["pages"] for w in pages] == [1, 2, 3, 3]
    assert job.state == "succeeded"


def test_source_errors_are_retried_with_backoff() -> None:
    api = rows_api()
    api.faults = [Fault("/data/", 500, times=1), Fault("/data/", 0, times=1)]
    harness = Harness(api)
    job = run_job(harness, spec(TEMPERATURE))
    assert job.state == "succeeded"
    assert job.retries == 2
    assert harness.slept == [1.0, 2.0]
    assert len(harness.published()) == 25


def test_a_source_that_keeps_failing_fails_the_job_with_the_reason() -> None:
    api = rows_api()
    api.faults = [Fault("/data/", 503, times=100)]
    harness = Harness(api)
    job = run_job(harness, spec(TEMPERATURE))
    assert job.state == "failed"
    assert job.reason is not None
    assert "HTTP 503" in job.reason
    assert "after 3 attempts" in job.reason
    assert "succeeded" not in harness.states(job.id)
    assert harness.store.latest[job.id]["state"] == "failed"


def test_an_unknown_box_or_sensor_fails_at_once() -> None:
    harness = Harness(FakeApi())
    other = spec()
    job = run_job(harness, type(other)("5a0000000000000000000001", START, START, "http://s.test"))
    assert job.state == "failed"
    assert "Box not found" in (job.reason or "")
    missing = run_job(Harness(FakeApi()), spec("5a0000000000000000000002"))
    assert missing.state == "failed"
    assert "has no sensor 5a0000000000000000000002" in (missing.reason or "")
    assert harness.slept == []


def test_bad_rows_are_reported_per_row_and_the_rest_is_published() -> None:
    good = series(START, 5)
    bad: list[dict[str, Any]] = [
        {"value": "abc", "createdAt": ms(START + timedelta(hours=1))},
        {"value": "NaN", "createdAt": ms(START + timedelta(hours=2))},
        {"value": "1.5", "createdAt": ms(START + timedelta(hours=3)), "location": [7.0, 95.0]},
    ]
    harness = Harness(FakeApi(rows={TEMPERATURE: [*good, *bad]}))
    job = run_job(harness, spec(TEMPERATURE))
    assert job.state == "succeeded"
    assert job.bad_rows == 3
    assert job.sensors[0].rejected == 3
    assert job.sensors[0].published == 5
    reasons = " | ".join(b.reason for b in job.bad_examples)
    assert "'abc' is not a number" in reasons
    assert "not finite" in reasons
    assert "/location/latitude" in reasons  # refused by the contract, with the pointer
    assert len(harness.published()) == 5


def test_kafka_not_acknowledging_is_retried_then_fails_the_job() -> None:
    harness = Harness(rows_api())
    harness.publisher.failure = Failed("unavailable", "kafka: no broker reachable", 5)
    job = run_job(harness, spec(TEMPERATURE))
    assert job.state == "failed"
    assert "not acknowledged by Kafka after 3 attempts" in (job.reason or "")
    # The first page's 3 chunks (of 4, 4 and 2 readings) are each tried 3 times, waiting
    # the failure's Retry-After (5 s), which beats the backoff (1 s, 2 s).
    assert harness.slept == [5.0] * 6
    assert job.retries == 6
    assert "succeeded" not in harness.states(job.id)


def test_a_kafka_hiccup_is_retried_with_the_same_readings() -> None:
    harness = Harness(rows_api(), publisher=FlakyPublisher(failing=1))
    job = run_job(harness, spec(TEMPERATURE))
    assert job.state == "succeeded"
    assert job.retries == 1
    assert len(harness.published()) == 25


def test_cancel_stops_a_running_job_and_saves_it_cancelled() -> None:
    harness = Harness(rows_api(), gate_after=1)

    async def go() -> tuple[Job, Job, int]:
        runner = harness.runner()
        await runner.start()
        job = await runner.submit(spec(TEMPERATURE))
        while not harness.sources:
            await asyncio.sleep(0)
        await harness.sources[0].waiting.wait()  # page 1 done, page 2 asked for
        cancelled = await runner.cancel(job.id)
        published = len(harness.publisher.published)
        again = await runner.cancel(job.id)
        await runner.close()
        return cancelled, again, published

    cancelled, again, published = asyncio.run(go())
    assert cancelled.state == "cancelled"
    assert cancelled.reason == "cancelled by request"
    assert again.state == "cancelled"
    assert harness.store.latest[cancelled.id]["state"] == "cancelled"
    assert published == 10  # page 1 only
    assert len(harness.publisher.published) == published


def test_a_restart_resumes_from_the_saved_cursor_without_republishing() -> None:
    api = rows_api()
    first = Harness(api, gate_after=1)

    async def until_shutdown() -> str:
        runner = first.runner()
        await runner.start()
        job = await runner.submit(spec(TEMPERATURE))
        while not first.sources:
            await asyncio.sleep(0)
        await first.sources[0].waiting.wait()
        await runner.close()  # shutting down, not cancelling
        return job.id

    job_id = asyncio.run(until_shutdown())
    saved = first.store.latest[job_id]
    assert saved["state"] == "running"
    cursor = saved["sensors"][0]["cursor"]["to"]
    assert cursor is not None

    second = Harness(api, store=first.store.replica())
    calls_before = len(api.data_calls(TEMPERATURE))

    async def after_restart() -> Job:
        runner = second.runner()
        await runner.start()
        done = await runner.join(job_id)
        await runner.close()
        return done

    done = asyncio.run(after_restart())
    assert done.state == "succeeded"
    assert api.data_calls(TEMPERATURE)[calls_before]["to-date"] == cursor
    before = [(str(r.event_id), r.value) for r, _ in first.publisher.published]  # type: ignore[attr-defined]
    after = [(str(r.event_id), r.value) for r, _ in second.publisher.published]  # type: ignore[attr-defined]
    assert len(before) + len(after) == 25  # every row once: nothing re-published
    assert not set(before) & set(after)
    assert len({e for e, _ in before + after}) == 22  # 4 rows share one instant, one id
    assert done.totals()["rows_read"] == 25
    assert "resumed after a restart" in [w["reason"] for w in second.store.writes]


def _stored(owner: str, updated: datetime) -> MemoryJobStore:
    store = MemoryJobStore()
    job = Job(id="other", spec=spec(TEMPERATURE), created_at=updated, updated_at=updated)
    job.owner, job.epoch, job.heartbeat_at = owner, 1, updated
    job.move("running", updated)
    asyncio.run(store.save(job))
    return store


def test_a_job_of_a_live_replica_is_left_alone_and_a_silent_ones_is_taken_over() -> None:
    async def resumed(store: MemoryJobStore) -> Job:
        harness = Harness(rows_api(), store=store)
        runner = harness.runner()
        await runner.start()
        job = await runner.join("other")
        await runner.close()
        return job

    now = datetime.now(UTC)
    alive = asyncio.run(resumed(_stored("test-b", now)))
    assert (alive.state, alive.owner) == ("running", "test-b")
    silent = asyncio.run(resumed(_stored("test-b", now - timedelta(hours=1))))
    assert (silent.state, silent.owner) == ("succeeded", "test-a")


def test_an_unreadable_store_leaves_ingest_up_and_jobs_unavailable() -> None:
    store = MemoryJobStore()
    store.failure = "kafka: no broker"
    harness = Harness(rows_api(), store=store)

    async def go() -> str:
        runner = harness.runner()
        await runner.start()
        try:
            await runner.submit(spec(TEMPERATURE))
        except JobsUnavailable as exc:
            return exc.detail
        finally:
            await runner.close()
        return "accepted"

    said = asyncio.run(go())
    assert said == "backfill jobs are unavailable: job state not loaded: kafka: no broker"


def test_a_secondary_worker_process_never_runs_jobs() -> None:
    """Jobs run in the primary worker (0); the others forward job requests to it."""
    harness = Harness(rows_api(), settings=job_settings(workers=4, worker_index=2))

    async def go() -> str:
        runner = harness.runner()
        await runner.start()
        try:
            await runner.submit(spec(TEMPERATURE))
        except JobsUnavailable as exc:
            return exc.detail
        finally:
            await runner.close()
        return "accepted"

    assert "jobs run in the primary worker; this is worker 2" in asyncio.run(go())
    assert harness.store.writes == []


def test_job_state_is_loaded_in_the_background_once_the_store_answers() -> None:
    store = MemoryJobStore()
    store.failure = "kafka: no broker"
    harness = Harness(rows_api(), store=store)

    async def go() -> Job:
        runner = harness.runner()
        await runner.start()
        store.failure = None  # Kafka is back
        while True:  # the loader retries on the (fake) backoff clock
            try:
                job = await runner.submit(spec(TEMPERATURE))
                break
            except JobsUnavailable:
                await asyncio.sleep(0)
        done = await runner.join(job.id)
        await runner.close()
        return done

    assert asyncio.run(go()).state == "succeeded"
    assert harness.slept[0] == 1.0  # the loader's first backoff
