"""Paging backwards through a sensor's rows: every row once, equal timestamps at page
boundaries included, and an end even when one instant holds more rows than a page."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.jobs.errors import SourceError
from ingest.jobs.paging import advance, parse_row, window
from tests.unit.jobs.fake_api import TEMPERATURE, FakeApi, ms, series

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=2)
LONG = timedelta(days=28)


def read_all(
    api: FakeApi, start: datetime, end: datetime, span: timedelta = LONG
) -> tuple[list[Any], list[str], int]:
    """Run the paging loop against the fake's page function; (rows, capped, calls)."""
    taken: list[Any] = []
    capped: list[str] = []
    upper: datetime | None = end
    seen: tuple[str, ...] = ()
    calls = 0
    while upper is not None:
        page = window(start, upper, span)
        status, raws, _ = api.answer(
            f"/boxes/{api.box['_id']}/data/{TEMPERATURE}",
            {"from-date": ms(page.start), "to-date": ms(page.end)},
        ) or (0, [], {})
        assert status == 200
        calls += 1
        assert calls < 1000, "paging does not end"
        step = advance(raws, page, seen, start=start, page_rows=api.limit)
        taken.extend(step.fresh)
        if step.capped:
            capped.append(step.capped)
        upper, seen = step.upper, step.seen
    return taken, capped, calls


def as_keys(rows: list[Any]) -> Counter[tuple[str, str]]:
    return Counter((ms(r.created_at), r.value) for r in rows)


def source_keys(raws: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((r["createdAt"], r["value"]) for r in raws)


def test_a_short_range_is_one_call() -> None:
    rows = series(START, 7)
    api = FakeApi(rows={TEMPERATURE: rows}, limit=10)
    taken, capped, calls = read_all(api, START, END)
    assert as_keys(taken) == source_keys(rows)
    assert (calls, capped) == (1, [])


def test_full_pages_move_to_date_to_the_oldest_row_and_skip_it_once() -> None:
    rows = series(START, 25)
    api = FakeApi(rows={TEMPERATURE: rows}, limit=10)
    taken, _, calls = read_all(api, START, END)
    assert as_keys(taken) == source_keys(rows)
    assert len(taken) == 25
    # Pages end at the oldest createdAt of the page before (inclusive).
    to_dates = [p["to-date"] for p in api.data_calls(TEMPERATURE)]
    assert to_dates[0] == ms(END)
    assert to_dates[1] == rows[25 - 10]["createdAt"]
    assert calls == 3


def test_many_rows_sharing_the_boundary_instant_are_read_once_each() -> None:
    at = START + timedelta(hours=1)
    same = [{"value": f"{i}.5", "createdAt": ms(at), "location": [7.0, 52.0]} for i in range(6)]
    rows = [*series(at + timedelta(minutes=1), 7), *same, *series(START, 5)]
    api = FakeApi(rows={TEMPERATURE: rows}, limit=10)  # page 1 ends inside the 6 equal rows
    taken, capped, _ = read_all(api, START, END)
    assert as_keys(taken) == source_keys(rows)
    assert capped == []


def test_identical_rows_at_the_boundary_are_counted_as_often_as_they_occur() -> None:
    at = START + timedelta(hours=1)
    twin = {"value": "1.5", "createdAt": ms(at), "location": [7.0, 52.0]}
    rows = [*series(at + timedelta(minutes=1), 9), twin, dict(twin), *series(START, 3)]
    api = FakeApi(rows={TEMPERATURE: rows}, limit=10)
    taken, _, _ = read_all(api, START, END)
    assert as_keys(taken)[(ms(at), "1.5")] == 2
    assert len(taken) == len(rows)


def test_an_instant_with_more_rows_than_a_page_is_capped_and_paging_goes_on() -> None:
    at = START + timedelta(hours=1)
    crowd = [{"value": f"{i}", "createdAt": ms(at)} for i in range(15)]
    older = series(START, 4)
    api = FakeApi(rows={TEMPERATURE: [*crowd, *older]}, limit=10)
    taken, capped, _ = read_all(api, START, END)
    assert capped == [ms(at)]
    assert sum(1 for r in taken if r.created_at == at) == 10  # all one page can give
    assert as_keys([r for r in taken if r.created_at != at]) == source_keys(older)


def test_windows_are_at_most_the_span_and_cover_the_range() -> None:
    rows = series(START, 48, step=timedelta(hours=1))
    api = FakeApi(rows={TEMPERATURE: rows}, limit=100)
    taken, _, calls = read_all(api, START, END, span=timedelta(hours=10))
    assert as_keys(taken) == source_keys(rows)
    assert calls == 5
    for params in api.data_calls(TEMPERATURE):
        span = datetime.fromisoformat(params["to-date"]) - datetime.fromisoformat(
            params["from-date"]
        )
        assert span <= timedelta(hours=10)


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=80),
    limit=st.integers(min_value=2, max_value=12),
)
def test_every_row_is_read_exactly_once_unless_its_instant_overflows_a_page(
    offsets: list[int], limit: int
) -> None:
    rows = [
        {"value": f"{i}", "createdAt": ms(START + timedelta(seconds=s))}
        for i, s in enumerate(offsets)
    ]
    api = FakeApi(rows={TEMPERATURE: rows}, limit=limit)
    taken, capped, _ = read_all(api, START, START + timedelta(seconds=40))
    per_instant = Counter(r["createdAt"] for r in rows)
    got = as_keys(taken)
    for instant, count in per_instant.items():
        read = sum(n for (at, _), n in got.items() if at == instant)
        assert read == (count if count < limit else limit), instant
        assert (instant in capped) == (count >= limit)  # a full page at one instant: maybe more
    for key, n in got.items():  # nothing invented, nothing twice
        assert n <= source_keys(rows)[key]


def test_bad_rows_are_reported_with_the_reason_and_do_not_stop_paging() -> None:
    page = window(START, END, LONG)
    raws = [
        {"value": "21.5", "createdAt": ms(START)},
        {"value": "abc", "createdAt": ms(START)},
        {"value": "1", "createdAt": "yesterday"},
        {"value": "NaN", "createdAt": ms(START)},
        {"value": "3", "createdAt": ms(END + timedelta(days=1))},
        {"value": "4", "createdAt": ms(START), "location": ["x", 1]},
        "not an object",
    ]
    step = advance(raws, page, (), start=START, page_rows=100)
    assert [r.value for r in step.fresh] == ["21.5"]
    reasons = [why for _, why in step.bad]
    assert any("'abc' is not a number" in r for r in reasons)
    assert any("not an RFC 3339 time" in r for r in reasons)
    assert any("not finite" in r for r in reasons)
    assert any("outside the requested" in r for r in reasons)
    assert any("location" in r for r in reasons)
    assert any("JSON object" in r for r in reasons)
    assert step.upper is None


def test_a_full_page_without_a_readable_time_cannot_be_paged() -> None:
    with pytest.raises(SourceError, match="cannot page further"):
        advance([{"value": "1"}] * 3, window(START, END, LONG), (), start=START, page_rows=3)


def test_rows_take_upstream_location_shapes() -> None:
    row = parse_row({"value": "1", "createdAt": "2026-01-01T00:00:00Z", "location": [7, 52, 60]})
    assert row.location is not None
    assert (row.location.lng, row.location.lat, row.location.height) == (7.0, 52.0, 60.0)
    assert parse_row({"value": 2.5, "createdAt": "2026-01-01T00:00:00.000Z"}).value == "2.5"


def test_a_full_page_not_newest_first_fails_rather_than_skip_rows() -> None:
    rows = series(START, 5)  # oldest first
    with pytest.raises(SourceError, match="does not answer newest first"):
        advance(rows, window(START, END, LONG), (), start=START, page_rows=5)
    step = advance(rows, window(START, END, LONG), (), start=START, page_rows=6)
    assert len(step.fresh) == 5  # a short page holds everything, in any order
