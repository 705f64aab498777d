"""Every case of every openSenseMap vector file, and http_semantics.json's examples, as
HTTP requests to the ingest app: upstream's status and body, and for a 201 the readings
published (one per decoded measurement, in upstream's order: sensor, value, event time,
location, box).

Time placeholders are filled relative to the real clock (whole seconds, as the
sbx-bytes-ts records need), because the routes check the one-minute future limit against
it; ``{{receive_time}}`` is checked to lie between the request's start and end.
Documented upstream quirks are checked as the behaviour we chose (the decoders' QUIRKS;
500 -> 422 for a bad sbx-bytes-ts length). ``follow_up`` GET checks are not served
(ingest only accepts uploads): for those cases the published reading is checked instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.opensensemap.decoding import numeric_value
from ingest.publisher.memory import MemoryPublisher
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.test_decoding_conformance import QUIRKS, SINGLE_STORED
from tests.unit.opensensemap.vectors import Case

SENTINEL = datetime(2000, 1, 1, tzinfo=UTC)  # stands for {{receive_time}} in expectations
ERROR_CODES = {400, 401, 404, 413, 415, 422}


def post(client: TestClient, case: Case, now: datetime) -> Any:
    headers = case.headers(now=now)
    headers.pop("Content-Length", None)  # the client sets it from the body (same value)
    return client.post(case.request["path"], content=case.body(now=now), headers=headers)


def expected_status(case: Case) -> int:
    status: int = case.expected.get("http_status_recommended", case.status)
    return status


def expected_readings(case: Case, now: datetime) -> list[dict[str, Any]]:
    if case.id in QUIRKS:
        return QUIRKS[case.id]
    if case.route == "single":
        stored: dict[str, Any] = vectors.substitute(
            SINGLE_STORED[case.id], now=now, received_at=SENTINEL
        )
        return [stored]
    listed: list[dict[str, Any]] = case.expected_for(now=now, received_at=SENTINEL)[
        "decoded_sorted_by_createdAt"
    ]
    return listed


def check_readings(
    case: Case, published: list[Any], now: datetime, window: tuple[datetime, datetime]
) -> None:
    box = vectors.box_for(case)
    assert box is not None
    expected = expected_readings(case, now)
    records = [record for record, _trace in published]
    assert len(records) == len(expected)
    for record, want in zip(records, expected, strict=True):
        sensor = box.sensor(want["sensor_id"])
        assert sensor is not None
        assert (record.device_id, record.sensor_id) == (box.id, sensor.id)
        assert record.value == numeric_value(want["value"])
        assert record.unit == (sensor.unit or "1")
        if want["createdAt"] == vectors.iso(SENTINEL):
            start, end = window
            assert start - timedelta(milliseconds=1) <= record.event_time <= end
        else:
            assert vectors.iso(record.event_time) == want["createdAt"]
        if "location" in want:
            lng, lat, *height = (float(c) for c in want["location"])
            assert record.location is not None
            assert (record.location.longitude, record.location.latitude) == (lng, lat)
            if height and not -12_000 <= height[0] <= 100_000:  # beyond the contract's
                assert record.location.elevation_m is None  # elevation_m range: kept aside
                assert record.metadata["osem_height"] == repr(height[0])
            else:
                assert record.location.elevation_m == (height[0] if height else None)
        else:
            assert record.location is None  # the vectors' boxes have no location


def check_case(client: TestClient, publisher: MemoryPublisher, case: Case) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    started = datetime.now(UTC)
    response = post(client, case, now)
    ended = datetime.now(UTC)
    status = expected_status(case)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    expected = case.expected_for(now=now)
    if status == 201:
        assert response.text == expected["response_body_raw_v1"]
        check_readings(case, publisher.published, now, (started, ended))
        return
    assert publisher.published == []  # all or nothing
    body = response.json()
    if "response_json_v1" in expected:
        want = dict(expected["response_json_v1"])
        if status != case.status:  # a quirk we answer as recommended (500 -> 422)
            want["code"] = "UnprocessableEntity"
        assert body == want
    else:
        assert body["code"] == {422: "UnprocessableEntity"}[status]
        assert body["message"]


@pytest.mark.parametrize("case", vectors.all_cases(), ids=lambda c: c.id)
def test_vector_case_over_http(osem: TestClient, publisher: MemoryPublisher, case: Case) -> None:
    check_case(osem, publisher, case)


@pytest.mark.parametrize("case", list(vectors.example_requests().values()), ids=lambda c: c.id)
def test_http_semantics_example(osem: TestClient, publisher: MemoryPublisher, case: Case) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    response = post(osem, case, now)
    assert response.status_code == case.status, response.text
    if "response_json_v1" in case.expected:
        assert response.json() == case.expected["response_json_v1"]
    if case.status == 201:
        assert response.json() == "Measurements saved in box"
        assert [getattr(r, "value", None) for r, _ in publisher.published] == [5.38, 4.98]
    else:
        assert publisher.published == []


def test_every_vector_status_is_one_the_routes_give() -> None:
    """A guard on the suite itself: no case is silently expected to be a 5xx."""
    statuses = {expected_status(c) for c in vectors.all_cases()}
    assert statuses <= ERROR_CODES | {201}
    assert len(vectors.all_cases()) == 81
    assert json.dumps(sorted(statuses)) == "[201, 400, 401, 404, 415, 422]"
