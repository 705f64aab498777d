"""The job state machine, and job state surviving its JSON (the jobs topic's values)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.jobs.errors import JobStateError
from ingest.jobs.model import FINISHED, MAX_EXAMPLES, BadRow, Job, JobSpec, SensorProgress, State

AT = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = JobSpec("57000b8745fd40c8196ad04c", AT, AT + timedelta(days=10), "http://x", ("a" * 24,))


def job() -> Job:
    return Job(id="j1", spec=SPEC, created_at=AT, updated_at=AT)


def test_a_job_goes_queued_running_succeeded_with_timestamps() -> None:
    j = job()
    j.move("running", AT + timedelta(seconds=1))
    j.sensors = [SensorProgress("a" * 24, state="done")]
    j.move("succeeded", AT + timedelta(seconds=2))
    assert (j.started_at, j.finished_at) == (AT + timedelta(seconds=1), AT + timedelta(seconds=2))
    assert j.finished


@pytest.mark.parametrize("end", sorted(FINISHED))
def test_a_finished_job_never_moves_again(end: str) -> None:
    j = job()
    j.move("running", AT)
    j.sensors = [SensorProgress("a" * 24, state="done")]
    j.move(end, AT)  # type: ignore[arg-type]
    states: tuple[State, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
    for state in states:
        with pytest.raises(JobStateError):
            j.move(state, AT)


def test_success_is_refused_while_a_sensor_is_not_read() -> None:
    j = job()
    j.move("running", AT)
    j.sensors = [SensorProgress("a" * 24, state="done"), SensorProgress("b" * 24)]
    with pytest.raises(JobStateError, match="sensors left to read"):
        j.move("succeeded", AT)
    with pytest.raises(JobStateError):
        job().move("succeeded", AT)  # queued -> succeeded skips running


def test_bad_rows_keep_a_count_and_the_first_examples() -> None:
    j = job()
    for i in range(MAX_EXAMPLES + 5):
        j.bad(BadRow("a" * 24, str(i), "value is not a number"))
    assert j.bad_rows == MAX_EXAMPLES + 5
    assert len(j.bad_examples) == MAX_EXAMPLES


def test_the_json_round_trip_keeps_the_cursor_and_counts() -> None:
    j = job()
    j.move("running", AT)
    j.sensors = [
        SensorProgress(
            "a" * 24,
            title="Temperatur",
            state="running",
            rows_read=10_000,
            published=9_990,
            rejected=10,
            pages=1,
            upper=AT + timedelta(days=5, milliseconds=123),
            seen=("0011aabbccddeeff",),
            capped=("2026-01-03T00:00:00.000Z",),
        )
    ]
    j.bad(BadRow("a" * 24, '{"value":"x"}', "value 'x' is not a number"))
    data = json.loads(json.dumps(j.as_dict()))
    again = Job.from_dict(data)
    assert again.as_dict() == j.as_dict()
    assert data["sensors"][0]["cursor"]["to"] == "2026-01-06T00:00:00.123Z"
    assert data["sensors"][0]["progress"] == 0.5
    assert data["totals"]["published"] == 9_990
