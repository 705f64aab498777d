"""iotpipe's own openSenseMap vectors, replayed over HTTP: flags.json (where the upload
routes read ``luftdaten``/``hackair`` and the single route's options: JSON body keys and
the query string, as upstream's parameter lookup) and get_routes.json (the GET routes a
viewer calls for one box: served from the device registry, or answered as upstream's
router answers a route it does not have). Both are in the shared files' case format.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.opensensemap.decoding import bulk_flags, bulk_format, numeric_value, query_of
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.reads import box_json
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.devices.boxes import Box, InMemoryBoxes
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.vectors import Case

FLAG_CASES = vectors.cases("flags.json")
GET_CASES: list[dict[str, Any]] = vectors.load("get_routes.json")["cases"]
VIEWER_BOX = Box.from_osem(vectors.load("get_routes.json")["box"])


@pytest.fixture
def app_client(osem_settings: IngestSettings, publisher: MemoryPublisher) -> Iterator[TestClient]:
    """The conformance boxes plus get_routes.json's box (which replaces ``home``: same id)."""
    boxes = InMemoryBoxes(vectors.boxes().values())
    boxes.put(VIEWER_BOX)
    app = create_app(settings=osem_settings, publisher=publisher, boxes=boxes)
    with TestClient(app) as client:
        yield client


def _check_published(case: Case, published: list[Any], now: datetime, window: Any) -> None:
    box = vectors.box_for(case)
    assert box is not None
    sentinel = datetime(2000, 1, 1, tzinfo=UTC)
    want = case.expected_for(now=now, received_at=sentinel)["decoded_sorted_by_createdAt"]
    records = [record for record, _trace in published]
    assert len(records) == len(want)
    for record, item in zip(records, want, strict=True):
        assert (record.device_id, record.sensor_id) == (box.id, item["sensor_id"])
        assert record.value == numeric_value(item["value"])
        if item["createdAt"] == vectors.iso(sentinel):
            assert window[0] - timedelta(milliseconds=1) <= record.event_time <= window[1]
        else:
            assert vectors.iso(record.event_time) == item["createdAt"]


@pytest.mark.parametrize("case", FLAG_CASES, ids=lambda c: c.id)
def test_flag_case_over_http(osem: TestClient, publisher: MemoryPublisher, case: Case) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = vectors.substitute(case.request["path"], now=now)
    started = datetime.now(UTC)
    response = osem.post(path, content=case.body(now=now), headers=case.headers(now=now))
    window = (started, datetime.now(UTC))
    expected = case.expected_for(now=now)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    if case.status == 201:
        assert response.text == expected["response_body_raw_v1"]
        _check_published(case, publisher.published, now, window)
    else:
        assert response.json() == expected["response_json_v1"]
        assert publisher.published == []


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c["id"])
def test_get_case_over_http(app_client: TestClient, case: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = vectors.substitute(case["request"]["path"], now=now)
    response = app_client.get(path, headers=case["request"]["headers"])
    expected = case["expected"]
    assert response.status_code == expected["http_status"], response.text
    assert response.headers["content-type"] == expected["content_type"]
    for name, value in expected["headers"].items():
        assert response.headers[name] == value
    assert response.json() == expected["response_json_v1"]


def test_the_vectors_cover_each_flag_and_each_get() -> None:
    """A guard on the files: every flag and option has a case, every GET route too."""
    texts = [f"{c.request['path']} {c.request.get('body_json')}" for c in FLAG_CASES]
    for name in ("luftdaten", "hackair", "value", "createdAt"):
        assert any(name in t for t in texts), name
    paths = {c["request"]["path"].split("?")[0].replace(VIEWER_BOX.id, "B") for c in GET_CASES}
    for route in ("/boxes/B", "/boxes/B/sensors", "/boxes/B/locations", "/boxes"):
        assert route in paths
    assert all(c.get("provenance") for c in [*GET_CASES, *vectors.load("flags.json")["cases"]])


def test_get_box_never_shows_token_material(app_client: TestClient) -> None:
    body = app_client.get(f"/boxes/{VIEWER_BOX.id}").text
    assert vectors.ACCESS_TOKEN not in body
    assert "access_token" not in body
    assert "useAuth" not in body
    lone = box_json(vectors.boxes()["hackair_home_v2"])
    assert "currentLocation" not in lone
    assert lone["loc"] == [{"type": "Feature"}]


def test_geojson_of_a_box_without_location_has_null_geometry(
    tmp_path: Path, publisher: MemoryPublisher
) -> None:
    boxes = InMemoryBoxes(vectors.boxes().values())
    settings = IngestSettings(keys_file=tmp_path / "keys.json")
    with TestClient(create_app(settings=settings, publisher=publisher, boxes=boxes)) as client:
        response = client.get("/boxes/5a1100000000000000a10000?format=geojson")
    assert response.status_code == 200
    assert response.json()["geometry"] is None
    assert response.json()["properties"]["model"] == "hackair_home_v2"


@pytest.mark.parametrize(
    ("value", "flagged"),
    [(True, True), (1, True), ("0", True), ({}, True), (False, False), (0, False), (None, False)],
)
def test_a_json_body_flag_counts_as_upstream_reads_it(value: object, flagged: bool) -> None:
    import json  # noqa: PLC0415

    body = json.dumps({"hackair": value, "x": 1}).encode()
    assert ("hackair" in bulk_flags({}, "application/json", body)) is flagged
    assert ("hackair" in bulk_flags({}, "application/vnd.osem+json; charset=utf-8", body)) is (
        flagged
    )


def test_only_json_bodies_carry_flags() -> None:
    body = b'{"luftdaten": 1}'
    assert bulk_flags({}, "text/csv", body) == set()
    assert bulk_flags({}, None, body) == set()
    assert bulk_flags({}, "application/json", b'[{"luftdaten": 1}]') == set()
    assert bulk_format("application/json", {}, b'{"sensor": 1}') == "json"


def test_unparseable_json_that_may_hold_a_flag_is_invalid_content() -> None:
    with pytest.raises(OsemError) as caught:
        bulk_format("application/json", {}, b'{"luftdaten": 1')
    assert (caught.value.status, caught.value.code) == (400, "InvalidContent")


def test_the_query_keeps_repeated_names() -> None:
    assert query_of([("a", "1"), ("b", "2"), ("a", "3"), ("a", "4")]) == {
        "a": ["1", "3", "4"],
        "b": "2",
    }
