"""Format dispatch and the edges of each body format beyond the vectors.

Each test names the upstream rule it pins (or the deliberate difference, documented in
the decoder modules): what real senseBox sketches send, what restify/jsonHandler/
csvHandler do with odd bodies, and where we answer 422 where upstream crashes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from ingest.opensensemap.decoding import (
    MAX_MEASUREMENTS,
    bulk_format,
    decode_bulk,
)
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Measurement
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.vectors import RECEIVED_AT

HOME = vectors.boxes()["home"]
UV, LUX, PRESSURE, HUMIDITY, TEMP, WIFI, VCC = (s.id for s in HOME.sensors)


def bulk(fmt: str, body: bytes | str | Any, box: Any = HOME) -> list[Measurement]:
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return decode_bulk(fmt, body, box, received_at=RECEIVED_AT)


def refused(fmt: str, body: bytes | str | Any, box: Any = HOME) -> tuple[int, str, str]:
    with pytest.raises(OsemError) as caught:
        bulk(fmt, body, box)
    return caught.value.status, caught.value.code, caught.value.message


# -- dispatch (http_semantics.json format_dispatch_bulk) -------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("json_object.json", "json"),
        ("json_array.json", "json"),
        ("csv.json", "csv"),
        ("sbx_bytes.json", "sbx-bytes"),
        ("sbx_bytes_ts.json", "sbx-bytes-ts"),
    ],
)
def test_every_accepted_content_type_dispatches(name: str, fmt: str) -> None:
    for content_type in vectors.load(name)["content_types_accepted_v1"]:
        assert bulk_format(content_type, {}) == fmt
        assert bulk_format(content_type.upper() + " ; charset=UTF-8", {}) == fmt


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream",
     "debug_plain", "application/xml", "text/csvx"],
)  # fmt: skip
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(OsemError) as caught:
        bulk_format(content_type, {})
    assert caught.value.body() == {
        "code": "UnsupportedMediaType",
        "message": "Unsupported content-type.",
    }


def test_flags_win_over_the_content_type_hackair_first() -> None:
    assert bulk_format("text/csv", {"luftdaten": "1"}) == "luftdaten"
    assert bulk_format(None, {"hackair": "true", "luftdaten": "1"}) == "hackair"
    # Upstream's rule, kept: any non-empty value selects the decoder, "false" too.
    assert bulk_format("application/json", {"luftdaten": "false"}) == "luftdaten"
    assert bulk_format("application/json", {"hackair": "0"}) == "hackair"


def test_empty_flag_is_422_as_upstreams_string_parameter() -> None:
    with pytest.raises(OsemError) as caught:
        bulk_format("text/csv", {"hackair": " ", "luftdaten": ""})
    assert (caught.value.status, caught.value.message) == (
        422,
        "Parameter luftdaten is not parseable as datatype String",
    )


# -- CSV as devices write it ----------------------------------------------------------


def test_ethernet_sketch_truncated_by_content_length_still_decodes() -> None:
    """device_http_wire.md: Content-Length one byte short cuts "55.20" to "55.2"."""
    got = bulk("csv", f"{TEMP},21.34\n{HUMIDITY},55.2")
    assert [(m.sensor_id, m.value) for m in got] == [(TEMP, "21.34"), (HUMIDITY, "55.2")]


def test_csv_line_endings_and_padding() -> None:
    got = bulk("csv", f"\r\n{TEMP},\t 21.34 \r\n\r\n\n{HUMIDITY},55.20\r")
    assert [m.value for m in got] == ["21.34", "55.20"]


def test_csv_negative_with_fraction_bug_is_422() -> None:
    """device_http_wire.md: the Ethernet sketch prints -5.5 as "-5.-50"."""
    assert refused("csv", f"{TEMP},-5.-50")[2] == (
        f'Invalid value in measurement {{"sensor_id":"{TEMP}","value":"-5.-50"}}'
    )


def test_csv_only_line_breaks_is_empty_batch() -> None:
    assert refused("csv", "\r\n\n")[2] == "Cannot save empty or invalid measurements."


def test_csv_illegal_line_quotes_the_trimmed_fields() -> None:
    assert refused("csv", " , abc \n")[2] == "illegal line 'abc'"


def test_csv_non_numeric_coordinates_are_missing() -> None:
    message = refused("csv", f"{TEMP},1,2024-01-01T10:00:00Z,east,51")[2]
    assert message.startswith("missing latitude or longitude in location ")
    assert '"location":{"lng":null,"lat":51,"height":null}' in message


# -- JSON ----------------------------------------------------------------------------


def test_unparseable_json_is_restifys_400() -> None:
    status, code, message = refused("json", b"{not json")
    assert (status, code) == (400, "InvalidContent")
    assert message.startswith("Invalid JSON: ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Cannot decode empty message (json decoder)"),
        (b"null", "Cannot decode empty message (json decoder)"),
        (b"0", "Cannot decode empty message (json decoder)"),
        (b"5", "Cannot save empty or invalid measurements."),
        (b"[1]", "Missing sensor id in measurement 1"),
        (b"[null]", "Missing sensor id in measurement null"),
    ],
)
def test_odd_json_documents(body: bytes, message: str) -> None:
    assert refused("json", body) == (422, "UnprocessableEntity", message)


def test_json_object_keys_in_js_order() -> None:
    """Object.keys puts "5" first: upstream reports that key, not "abc"."""
    assert refused("json", {"abc": 1, "5": 2})[2] == (
        'Invalid sensor id in measurement {"sensor_id":"5","value":2}'
    )


def test_numbers_are_stored_as_js_prints_them() -> None:
    got = bulk(
        "json", b'{"%s": 1.50, "%s": 1E3, "%s": -0}' % (UV.encode(), LUX.encode(), VCC.encode())
    )
    assert [m.value for m in got] == ["1.5", "1000", "0"]


def test_array_value_is_refused() -> None:
    """JS's isNumber([5]) is true, but mongoose cannot store it (CastError): 422 here."""
    assert refused("json", [{"sensor": UV, "value": [5]}])[0] == 422


def test_sensor_id_must_match_exactly_in_bulk() -> None:
    """Upstream compares strings (sensorIds.indexOf): upper-case hex is a foreign sensor."""
    assert refused("json", [{"sensor": UV.upper(), "value": 1}]) == (
        400,
        "BadRequest",
        f"Measurement for sensor with id {UV.upper()} does not belong to box",
    )


def test_first_foreign_sensor_in_created_at_order_is_reported() -> None:
    a, b = "5a1100000000000000d10001", "5a1100000000000000d10002"
    body = [
        {"sensor": a, "value": 1, "createdAt": "2024-01-02T00:00:00Z"},
        {"sensor": b, "value": 1, "createdAt": "2024-01-01T00:00:00Z"},
    ]
    assert refused("json", body)[2] == f"Measurement for sensor with id {b} does not belong to box"


def test_validation_errors_come_before_the_foreign_sensor_400() -> None:
    body = [{"sensor": "5a1100000000000000d10001", "value": 1}, {"sensor": UV, "value": "x"}]
    assert refused("json", body)[0] == 422


def test_sensor_key_is_stringified_and_trimmed() -> None:
    (m,) = bulk("json", [{"sensor": f"  {UV} ", "value": "1"}])
    assert m.sensor_id == UV


def test_too_many_in_every_format() -> None:
    too_many = (
        f"Too many measurements. Please submit at most {MAX_MEASUREMENTS} measurements at once."
    )
    csv = "".join(f"{UV},1\n" for _ in range(MAX_MEASUREMENTS + 1))
    record = bytes.fromhex(UV) + b"\x00\x00\x80\x3f"
    assert refused("csv", csv)[2] == too_many
    assert refused("sbx-bytes", record * (MAX_MEASUREMENTS + 1))[2] == too_many
    assert len(bulk("sbx-bytes", record * MAX_MEASUREMENTS)) == MAX_MEASUREMENTS


def test_receive_time_is_kept_to_the_millisecond_and_naive_means_utc() -> None:
    naive = datetime(2025, 6, 1, 12, 0, 0, 123_456)
    (m,) = decode_bulk("csv", f"{UV},1".encode(), HOME, received_at=naive)
    assert vectors.iso(m.created_at) == "2025-06-01T12:00:00.123Z"
    assert m.created_at.utcoffset() == timedelta(0)


# -- luftdaten / hackAIR -------------------------------------------------------------


def test_luftdaten_oddities_are_422_not_500() -> None:
    box = vectors.boxes()["luftdaten_sds011_dht11"]
    missing = "Invalid luftdaten json. Missing `sensordatavalues`"
    assert refused("luftdaten", {"sensordatavalues": "SDS_P1"}, box)[2] == missing
    assert refused("luftdaten", [], box)[2] == missing  # [] is truthy in JS
    assert refused("luftdaten", None, box)[2] == "Cannot decode empty message (luftdaten decoder)"
    body = {"sensordatavalues": [None, 3, {"value_type": 7}, {"value_type": "SDS_P1"}]}
    assert refused("luftdaten", body, box)[2] == (
        'Missing value in measurement {"sensor_id":"5a1100000000000000d10001"}'
    )


def test_luftdaten_first_matching_sensor_wins() -> None:
    box = vectors.boxes()["luftdaten_custom"]
    got = bulk(
        "luftdaten", {"sensordatavalues": [{"value_type": "DHT22_temperature", "value": 3}]}, box
    )
    assert [(m.sensor_id, m.value) for m in got] == [("5a1100000000000000c10003", "3")]


def test_hackair_reading_must_be_an_object_with_matches() -> None:
    box = vectors.boxes()["hackair_home_v2"]
    assert refused("hackair", {"reading": "PM10"}, box)[2] == "No applicable values found"
    assert refused("hackair", {"reading": {}}, box)[2] == "No applicable values found"
    assert refused("hackair", {"reading": 0}, box)[2] == "Invalid hackair json. Missing `readings`"
    got = bulk("hackair", {"reading": {"pm2.5_x": 1.5}}, box)
    assert [(m.sensor_id, m.value) for m in got] == [("5a1100000000000000a10002", "1.5")]


# -- a full batch ------------------------------------------------------------------


def test_a_full_csv_batch_of_sketch_lines_decodes() -> None:
    """2,500 sketch-style lines (the batch limit): every line, in order.
    (Speed is a benchmark's business, not a test's: no timing is asserted here.)"""
    ids = [s.id for s in HOME.sensors]
    body = "".join(f"{ids[i % 7]},{i * 0.01:9.2f}\n" for i in range(MAX_MEASUREMENTS)).encode()
    got = decode_bulk("csv", body, HOME, received_at=RECEIVED_AT)
    assert len(got) == MAX_MEASUREMENTS
    assert [m.sensor_id for m in got[:8]] == [*ids, ids[0]]
    assert got[-1].value == f"{(MAX_MEASUREMENTS - 1) * 0.01:.2f}"  # CSV values are trimmed
