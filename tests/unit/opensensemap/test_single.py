"""``POST /boxes/:boxId/:sensorId`` beyond the vectors: upstream's parameter handling.

restify's retrieveParameters: value/createdAt/location from the JSON body or the query
string (the query wins), ``String(value).trim()``, arrays refused as "specified once",
then the measurement rules, then the sensor must be one of the box's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.opensensemap.decoding import check_id_param, decode_single, parse_single
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Measurement
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.vectors import RECEIVED_AT

HOME = vectors.boxes()["home"]
UV = HOME.sensors[0].id


def single(
    body: Any, *, sensor: str = UV, content_type: str | None = "application/json", **query: str
) -> Measurement:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_single(raw, content_type, HOME, sensor, received_at=RECEIVED_AT, query=query)


def refused(body: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(OsemError) as caught:
        single(body, **kwargs)
    return caught.value.status, caught.value.code, caught.value.message


def test_value_is_stringified_and_trimmed() -> None:
    assert single({"value": " 21.5 "}).value == "21.5"
    assert single({"value": 1.0}).value == "1"
    assert single({"value": "0x1A"}).value == "0x1A"  # JS Number("0x1A") is finite


def test_query_parameters_count_and_win_over_the_body() -> None:
    assert single({"value": 1}, value="2").value == "2"
    assert single(b"", value="3").value == "3"
    m = single({"value": 1}, createdAt="2024-01-01T10:00:00Z")
    assert vectors.iso(m.created_at) == "2024-01-01T10:00:00.000Z"


BAD, UNPROCESSABLE = "BadRequest", "UnprocessableEntity"
NOT_A_STRING = "Parameter value is not parseable as datatype String"
LOCATION = "Illegal value for parameter location. "


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, BAD, "missing required parameter value")),
        (b"", (400, BAD, "missing required parameter value")),
        ([1], (400, BAD, "missing required parameter value")),
        ({"value": [1, 2]}, (400, BAD, "Parameter value must only be specified once")),
        ({"value": "  "}, (422, UNPROCESSABLE, NOT_A_STRING)),
        ({"value": None}, (422, UNPROCESSABLE, NOT_A_STRING)),
        (
            {"value": 1, "createdAt": ["2024-01-01T10:00:00Z"]},
            (400, BAD, "Parameter createdAt must only be specified once"),
        ),
        (
            {"value": 1, "createdAt": 1700000000},
            (
                422,
                UNPROCESSABLE,
                "Illegal value for parameter createdAt. Invalid timestamp '1700000000'.",
            ),
        ),
        (
            {"value": 1, "location": None},
            (422, UNPROCESSABLE, LOCATION + "missing latitude or longitude in location null"),
        ),
        (
            {"value": 1, "location": {"lat": 91, "lng": 0}},
            (
                422,
                UNPROCESSABLE,
                LOCATION + "latitude or longitude is out of bounds in location [object Object]",
            ),
        ),
        (
            {"value": True},
            (
                422,
                UNPROCESSABLE,
                f'Invalid value in measurement {{"sensor_id":"{UV}","value":"true"}}',
            ),
        ),
        (b"{oops", (400, "InvalidContent", None)),
    ],
)
def test_parameter_errors(body: Any, expected: tuple[int, str, str | None]) -> None:
    status, code, message = refused(body)
    assert (status, code) == expected[:2]
    if expected[2] is not None:
        assert message == expected[2]


def test_future_message_quotes_the_normalised_measurement() -> None:
    late = vectors.iso(RECEIVED_AT.replace(year=RECEIVED_AT.year + 1))
    body = {"value": 5, "createdAt": late, "location": [7.123456789, 51, 2]}
    assert refused(body)[2] == (
        f"Timestamp {late} is too far into the future. in measurement "
        f'{{"sensor_id":"{UV}","value":"5","createdAt":"{late}","location":[7.1234568,51,2]}}'
    )


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/csv", "application/jsonx"])
def test_only_json_is_accepted(content_type: str | None) -> None:
    assert refused({"value": 1}, content_type=content_type) == (
        415,
        "UnsupportedMediaType",
        "Unsupported content-type. Try application/json",
    )


def test_json_with_parameters_is_accepted() -> None:
    assert single({"value": 1}, content_type="Application/JSON; charset=utf-8").value == "1"


def test_sensor_id_syntax_then_membership() -> None:
    assert refused({"value": 1}, sensor="nope") == (
        422,
        "UnprocessableEntity",
        "Parameter sensorId is not parseable as datatype id",
    )
    other = "5a1100000000000000d10001"
    assert refused({"value": 1}, sensor=other)[:2] == (404, "NotFound")
    # bson's ObjectId.equals is case-insensitive: the sensor is found, stored lower-case.
    assert single({"value": 1}, sensor=UV.upper()).sensor_id == UV


def test_value_rules_come_before_the_sensor_lookup() -> None:
    assert refused({"value": "abc"}, sensor="5a1100000000000000d10001")[0] == 422


def test_parse_single_needs_no_box() -> None:
    request = parse_single(b'{"value": 3, "location": [1, 2]}', "application/json", UV)
    assert (request.sensor_id, request.value, request.created_at) == (UV, "3", None)
    assert request.location is not None and request.location.as_list() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("raw", "valid"),
    [(UV, True), (f" {UV} ", True), ("abcdefghijkl", True), ("not-a-box", False), ("", False)],
)
def test_check_id_param(raw: str, valid: bool) -> None:
    if valid:
        assert check_id_param("boxId", raw) == raw.strip()
    else:
        with pytest.raises(OsemError) as caught:
            check_id_param("boxId", raw)
        assert caught.value.message == "Parameter boxId is not parseable as datatype id"
