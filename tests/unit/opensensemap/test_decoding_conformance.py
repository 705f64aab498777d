"""Every case of every openSenseMap format file, replayed against the decoders.

A case passes when the decoders give upstream's result: the decoded measurements
(sensor, value string, createdAt, location) in upstream's order, or the exact status,
code and message. Cases that only the route can answer (401 token, 404 unknown box) are
skipped here with that reason; the HTTP tests replay them. Upstream quirks are tested as
the behaviour we chose instead (see QUIRKS).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ingest.opensensemap.decoding import (
    bulk_format,
    check_id_param,
    decode_bulk,
    decode_single,
)
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Measurement
from iotpipe.devices.boxes import Box, Sensor
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.vectors import NOW, RECEIVED_AT, Case

ROUTE_ONLY = {401: "token check is the route's (box.useAuth / hackAIR)"}

# Upstream quirks (README): the behaviour we implement instead, as the decoded list.
QUIRKS: dict[str, list[dict[str, Any]]] = {
    # ".5Z" is half a second, not 5 ms; so the .123 measurement sorts first.
    "jsonarr-12-nanosecond-fraction": [
        {
            "sensor_id": "57000b8745fd40c8196ad04e",
            "value": "1",
            "createdAt": "2024-01-01T10:00:00.123Z",
        },
        {
            "sensor_id": "57000b8745fd40c8196ad04f",
            "value": "1",
            "createdAt": "2024-01-01T10:00:00.500Z",
        },
    ],
}

# Single-measurement 201 cases give no decoded list; what upstream stores, from each
# case's follow_up / body (value as String(value).trim()).
HOME_UV, HOME_LUX = "57000b8745fd40c8196ad04e", "57000b8745fd40c8196ad04f"
SINGLE_STORED: dict[str, dict[str, Any]] = {
    "single-01": {"sensor_id": HOME_UV, "value": "312.1", "createdAt": "{{receive_time}}"},
    "single-03": {"sensor_id": HOME_LUX, "value": "123.4", "createdAt": "{{now}}"},
    "single-05": {
        "sensor_id": HOME_UV,
        "value": "3",
        "createdAt": "{{receive_time}}",
        "location": [3, 3, 3],
    },
    "single-06": {
        "sensor_id": HOME_UV,
        "value": "4",
        "createdAt": "{{receive_time}}",
        "location": [4, 4, 4],
    },
    "single-07": {
        "sensor_id": HOME_UV,
        "value": "-1",
        "createdAt": "{{now-1m}}",
        "location": [-1, -1, -1],
    },
    "single-15": {"sensor_id": HOME_UV, "value": "21.34", "createdAt": "{{receive_time}}"},
}


def as_vector(m: Measurement) -> dict[str, Any]:
    """A measurement in the vectors' shape (location as floats, createdAt as RFC 3339)."""
    out: dict[str, Any] = {
        "sensor_id": m.sensor_id,
        "value": m.value,
        "createdAt": vectors.iso(m.created_at),
    }
    if m.location is not None:
        out["location"] = m.location.as_list()
    return out


def normalised(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected entries without the vectors' annotations, coordinates as floats."""
    out = []
    for e in entries:
        item: dict[str, Any] = {k: e[k] for k in ("sensor_id", "value", "createdAt") if k in e}
        if "location" in e:
            item["location"] = [float(c) for c in e["location"]]
        out.append(item)
    return out


def decode(
    case: Case, box: Box, *, now: datetime = NOW, received_at: datetime = RECEIVED_AT
) -> list[Measurement]:
    body = case.body(now=now)
    if case.route == "single":
        one = decode_single(
            body,
            case.content_type(),
            box,
            case.sensor_id,
            received_at=received_at,
            query=case.query,
        )
        return [one]
    check_id_param("boxId", case.box_id)
    fmt = bulk_format(case.content_type(), case.query)
    return decode_bulk(fmt, body, box, received_at=received_at)


def expect_refusal(case: Case, box: Box, expected: dict[str, Any]) -> None:
    with pytest.raises(OsemError) as caught:
        decode(case, box)
    want = dict(expected.get("response_json_v1", {}))
    if "http_status_recommended" in expected:  # upstream's 500 for an sbx-bytes-ts length
        assert expected["http_status_recommended"] == 422
        want["code"] = "UnprocessableEntity"
        assert caught.value.status == 422
    else:
        assert caught.value.status == expected["http_status"]
    if want:
        assert caught.value.body() == want


@pytest.mark.parametrize("case", vectors.all_cases(), ids=lambda c: c.id)
def test_case(case: Case) -> None:
    if case.status in ROUTE_ONLY:
        pytest.skip(ROUTE_ONLY[case.status])
    box = vectors.box_for(case)
    if box is None:
        pytest.skip(f"box {case.box_id} is not in boxes.json: the route answers 404")
    expected = case.expected_for()
    if case.status != 201:
        expect_refusal(case, box, expected)
        return
    decoded = [as_vector(m) for m in decode(case, box)]
    if case.id in QUIRKS:
        assert decoded == QUIRKS[case.id]
    elif case.route == "single":
        stored = vectors.substitute(SINGLE_STORED[case.id], now=NOW, received_at=RECEIVED_AT)
        assert decoded == normalised([stored])
    else:
        assert decoded == normalised(expected["decoded_sorted_by_createdAt"])


def test_every_quirk_case_is_known() -> None:
    """A case the vectors mark as an upstream quirk must have our behaviour in QUIRKS."""
    marked = {c.id for c in vectors.all_cases() if "upstream_quirk" in c.expected}
    assert marked == set(QUIRKS)


@pytest.mark.parametrize(
    "case",
    [c for c in vectors.all_cases() if "decoder_output" in c.expected],
    ids=lambda c: c.id,
)
def test_decoder_output_for_a_box_owning_the_sensor(case: Case) -> None:
    """The apidoc byte examples decode; on the home box they are 400 (foreign sensor)."""
    expected = case.expected_for()["decoder_output"]
    owner = Box(
        id="595f9a282dcbee77ac0e5d00",
        name="owner",
        sensors=tuple(Sensor(e["sensor_id"], "t", "u", "x") for e in expected),
    )
    fmt = bulk_format(case.content_type(), case.query)
    decoded = decode_bulk(fmt, case.body(), owner, received_at=RECEIVED_AT)
    assert [as_vector(m) for m in decoded] == normalised(expected)


@pytest.mark.parametrize("now", [NOW, NOW + timedelta(days=400, hours=3, seconds=7)])
def test_relative_cases_hold_for_another_now(now: datetime) -> None:
    """Placeholders are relative: the sbx-bytes-ts records hold for any (whole-second) now."""
    case = next(
        c
        for c in vectors.cases("sbx_bytes_ts.json")
        if c.id == "bytests-02-fixture-byte_submit_data"
    )
    received_at = now + timedelta(milliseconds=500)
    box = vectors.box_for(case)
    assert box is not None
    decoded = decode(case, box, now=now, received_at=received_at)
    expected = case.expected_for(now=now, received_at=received_at)
    assert [as_vector(m) for m in decoded] == normalised(expected["decoded_sorted_by_createdAt"])


def test_sbx_bytes_ts_body_matches_the_generation_run() -> None:
    """The loader builds the records exactly as the generation run did (same now)."""
    case = next(
        c
        for c in vectors.cases("sbx_bytes_ts.json")
        if c.id == "bytests-02-fixture-byte_submit_data"
    )
    generated = datetime.fromisoformat(case.request["generation_now_utc"].replace("Z", "+00:00"))
    assert case.body(now=generated).hex() == case.request["body_hex_at_generation"]


# -- http_semantics.json's cross-format examples --------------------------------------


def test_example_unsupported_type_is_415() -> None:
    case = vectors.example_requests()["unsupported_type"]
    with pytest.raises(OsemError) as caught:
        bulk_format(case.content_type(), case.query)
    assert caught.value.status == 415
    assert caught.value.body() == case.expected["response_json_v1"]


def test_example_sensor_of_other_box_is_400() -> None:
    case = vectors.example_requests()["sensor_of_other_box"]
    box = vectors.box_for(case)
    assert box is not None
    with pytest.raises(OsemError) as caught:
        decode(case, box)
    assert caught.value.status == 400
    assert caught.value.body() == case.expected["response_json_v1"]


def test_example_invalid_box_id_is_422() -> None:
    case = vectors.example_requests()["invalid_box_id"]
    with pytest.raises(OsemError) as caught:
        check_id_param("boxId", case.box_id)
    assert caught.value.status == 422
    assert caught.value.body() == case.expected["response_json_v1"]


def test_example_luftdaten_without_token_decodes() -> None:
    case = vectors.example_requests()["luftdaten_without_token"]
    box = vectors.box_for(case)
    assert box is not None and not box.requires_token()
    assert [m.value for m in decode(case, box)] == ["5.38", "4.98"]
