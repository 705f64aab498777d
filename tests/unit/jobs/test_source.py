"""The openSenseMap source adapter classifies failures; ``retrying`` backs off on a fake
clock, honours Retry-After and gives up with the reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ingest.jobs.errors import SourceError
from ingest.jobs.retry import Backoff, retrying
from ingest.jobs.source import OsemSource
from tests.unit.jobs.fake_api import BOX_ID, TEMPERATURE, FakeApi, Fault

AT = datetime(2026, 1, 1, tzinfo=UTC)


def fetch(api: FakeApi, call: str) -> object:
    async def run() -> object:
        source = OsemSource("http://source.test/", transport=api.transport())
        try:
            if call == "box":
                return await source.box(BOX_ID)
            return await source.measurements(BOX_ID, TEMPERATURE, AT, AT.replace(day=2))
        finally:
            await source.close()

    return asyncio.run(run())


def test_the_data_call_uses_upstreams_path_and_parameters() -> None:
    api = FakeApi(rows={TEMPERATURE: [{"value": "1", "createdAt": "2026-01-01T10:00:00.000Z"}]})
    assert fetch(api, "data") == [{"value": "1", "createdAt": "2026-01-01T10:00:00.000Z"}]
    path, params = api.calls[-1]
    assert path == f"/boxes/{BOX_ID}/data/{TEMPERATURE}"
    assert params == {
        "from-date": "2026-01-01T00:00:00.000Z",
        "to-date": "2026-01-02T00:00:00.000Z",
        "format": "json",
    }


@pytest.mark.parametrize(
    ("fault", "retryable", "words"),
    [
        (Fault("/boxes", 500), True, "HTTP 500"),
        (Fault("/boxes", 503), True, "HTTP 503"),
        (Fault("/boxes", 429, retry_after="7"), True, "HTTP 429"),
        (Fault("/boxes", 0), True, "timed out"),
        (Fault("/boxes", 422), False, "HTTP 422 injected"),
        (Fault("/boxes", 401), False, "HTTP 401"),
    ],
)
def test_failures_are_classified(fault: Fault, retryable: bool, words: str) -> None:
    api = FakeApi(faults=[fault])
    with pytest.raises(SourceError, match=words) as caught:
        fetch(api, "box")
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == (7.0 if fault.retry_after else None)


def test_an_unknown_box_is_not_retried() -> None:
    api = FakeApi()
    api.box = {**api.box, "_id": "5a0000000000000000000000"}
    with pytest.raises(SourceError, match="HTTP 404 Box not found") as caught:
        fetch(api, "box")
    assert not caught.value.retryable


class Flaky:
    def __init__(self, errors: list[SourceError]) -> None:
        self.errors = errors
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run_retrying(call: Flaky, backoff: Backoff) -> tuple[object, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> object:
        return await retrying(call, backoff, sleep)

    try:
        return asyncio.run(run()), slept
    except SourceError as exc:
        return exc, slept


def test_backoff_doubles_up_to_the_cap_and_then_succeeds() -> None:
    flaky = Flaky([SourceError("boom", retryable=True) for _ in range(4)])
    result, slept = run_retrying(flaky, Backoff(attempts=6, base=1.0, cap=5.0))
    assert result == "ok"
    assert slept == [1.0, 2.0, 4.0, 5.0]
    assert flaky.calls == 5


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    flaky = Flaky([SourceError("slow down", retryable=True, retry_after=9.0)])
    _, slept = run_retrying(flaky, Backoff(attempts=3, base=1.0, cap=30.0))
    assert slept == [9.0]


def test_giving_up_raises_the_last_error_with_the_number_of_attempts() -> None:
    flaky = Flaky([SourceError(f"HTTP 500 #{i}", retryable=True) for i in range(5)])
    result, slept = run_retrying(flaky, Backoff(attempts=3, base=0.5))
    assert isinstance(result, SourceError)
    assert str(result) == "HTTP 500 #2 (after 3 attempts)"
    assert slept == [0.5, 1.0]


def test_a_non_retryable_error_is_raised_at_once() -> None:
    flaky = Flaky([SourceError("HTTP 404", retryable=False)])
    result, slept = run_retrying(flaky, Backoff(attempts=5))
    assert isinstance(result, SourceError)
    assert (slept, flaky.calls) == ([], 1)
