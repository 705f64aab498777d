"""validation_rules.json, case by case: timestamps, locations, values, ids, batch size.

Timestamps and locations are the verbatim upstream cases (and extras executed against
upstream); messages are checked as a whole, as a 422 carries them ("<rule> in measurement
<JSON>"). The fraction-of-second cases are upstream quirks: we assert the RFC 3339 result.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ingest.opensensemap.decoding import MAX_MEASUREMENTS, valid_object_id
from ingest.opensensemap.decoding._js import UNDEFINED, stringify
from ingest.opensensemap.decoding.locations import transform_coords
from ingest.opensensemap.decoding.timestamps import parse_timestamp
from ingest.opensensemap.decoding.validators import validate_measurements
from ingest.opensensemap.errors import OsemError
from tests.unit.opensensemap import vectors
from tests.unit.opensensemap.vectors import RECEIVED_AT

RULES = vectors.load("validation_rules.json")
SENSOR = "57000b8745fd40c8196ad04e"

# Our (RFC 3339) reading of the cases upstream gets wrong, input -> parsed_utc.
FRACTIONS = {
    "2018-02-01T23:18:02.5Z": "2018-02-01T23:18:02.500Z",
    "2018-02-01T23:18:02.12Z": "2018-02-01T23:18:02.120Z",
    "2018-02-01T23:18:02.123456Z": "2018-02-01T23:18:02.123Z",
    "2018-02-01T23:18:02.123456789Z": "2018-02-01T23:18:02.123Z",
}


def refusal(measurement: dict[str, Any]) -> str:
    """The 422 message upstream's validator gives for one measurement."""
    with pytest.raises(OsemError) as caught:
        validate_measurements([measurement], RECEIVED_AT)
    assert caught.value.status == 422
    return caught.value.message


@pytest.mark.parametrize("case", RULES["timestamp_cases"], ids=lambda c: repr(c["input"]))
def test_timestamp(case: dict[str, Any]) -> None:
    text = case["input"]
    if case["valid"]:
        parsed = parse_timestamp(text)
        assert parsed is not None
        want = FRACTIONS[text] if "upstream_quirk" in case else case["parsed_utc"]
        assert vectors.iso(parsed) == want
        (checked,) = validate_measurements(
            [{"sensor_id": SENSOR, "value": "1", "createdAt": text}],
            RECEIVED_AT + timedelta(days=20_000),
        )
        assert checked.created_at == parsed
    else:
        assert parse_timestamp(text) is None
        measurement = {"sensor_id": SENSOR, "value": "1", "createdAt": text}
        assert refusal(measurement) == f"{case['error']} in measurement {stringify(measurement)}"


def test_every_fraction_quirk_has_our_reading() -> None:
    quirks = {c["input"] for c in RULES["timestamp_cases"] if "upstream_quirk" in c}
    assert quirks == set(FRACTIONS)


def test_future_limit_is_one_minute_after_receipt() -> None:
    limit = RECEIVED_AT + timedelta(minutes=1)
    ok = {"sensor_id": SENSOR, "value": "1", "createdAt": vectors.iso(limit)}
    assert validate_measurements([ok], RECEIVED_AT)[0].created_at == limit
    late = vectors.iso(limit + timedelta(milliseconds=1))
    message = refusal({"sensor_id": SENSOR, "value": "1", "createdAt": late})
    assert message.startswith(f"Timestamp {late} is too far into the future. in measurement ")


def test_no_past_limit_and_receive_time_by_default() -> None:
    epoch = {"sensor_id": SENSOR, "value": "2", "createdAt": "1970-01-01T00:00:00Z"}
    old, new = validate_measurements([{"sensor_id": SENSOR, "value": "1"}, epoch], RECEIVED_AT)
    assert (old.value, vectors.iso(old.created_at)) == ("2", "1970-01-01T00:00:00.000Z")
    assert (new.value, new.created_at) == ("1", RECEIVED_AT)


@pytest.mark.parametrize("case", RULES["location_cases"], ids=lambda c: stringify(c["input"]))
def test_location(case: dict[str, Any]) -> None:
    coords = UNDEFINED if case["input"] == "(undefined)" else case["input"]
    if case["valid"]:
        assert transform_coords(coords).as_list() == [float(c) for c in case["stored_as"]]
    else:
        with pytest.raises(OsemError) as caught:
            transform_coords(coords)
        assert (caught.value.status, caught.value.message) == (422, case["error"])


def test_location_object_out_of_bounds_quotes_like_upstream() -> None:
    """``${coords}`` of an object is "[object Object]" upstream; so is ours."""
    with pytest.raises(OsemError) as caught:
        transform_coords({"lng": 200, "lat": 0})
    assert (
        caught.value.message == "latitude or longitude is out of bounds in location [object Object]"
    )


# value_rules: the examples the rule text names.
INVALID_VALUES = ["abc", "nan", "NaN", "-59 dBm", None, True, "12abc"]
VALID_VALUES = [("1e3", "1e3"), (" 12.5 ", " 12.5 "), (-0.5, "-0.5"), (312.1, "312.1"), (0.0, "0")]


@pytest.mark.parametrize("value", INVALID_VALUES, ids=repr)
def test_invalid_value(value: object) -> None:
    measurement = {"sensor_id": SENSOR, "value": value}
    assert refusal(measurement) == f"Invalid value in measurement {stringify(measurement)}"


@pytest.mark.parametrize(("value", "stored"), VALID_VALUES, ids=repr)
def test_valid_value_is_stored_as_upstream_stores_it(value: object, stored: str) -> None:
    (checked,) = validate_measurements([{"sensor_id": SENSOR, "value": value}], RECEIVED_AT)
    assert checked.value == stored


@pytest.mark.parametrize("value", [UNDEFINED, ""], ids=repr)
def test_missing_value(value: object) -> None:
    measurement = {"sensor_id": SENSOR, "value": value}
    assert refusal(measurement) == f"Missing value in measurement {stringify(measurement)}"


def test_value_rules_text_names_these_examples() -> None:
    """Guards the two lists above against drifting from the rule they encode."""
    rule = RULES["value_rules"][1]
    named = [json.dumps(v) for v in INVALID_VALUES] + [json.dumps(v) for v, _ in VALID_VALUES[:3]]
    assert all(example in rule for example in named), (named, rule)


@pytest.mark.parametrize(
    ("sensor_id", "valid"),
    [
        (SENSOR, True),
        (SENSOR.upper(), True),
        ("abcdefghijkl", True),  # bson 1.x: any 12-character string
        ("00112233445566778899aabb", False),
        ("notanobjectid", False),
        (SENSOR[:-1], False),
        (SENSOR + "0", False),
        ("", False),
    ],
)
def test_object_id_rule(sensor_id: str, valid: bool) -> None:
    assert valid_object_id(sensor_id) is valid
    if not valid and sensor_id:
        measurement = {"sensor_id": sensor_id, "value": "1"}
        assert refusal(measurement) == f"Invalid sensor id in measurement {stringify(measurement)}"


def test_missing_sensor_id() -> None:
    assert refusal({"value": 1}) == 'Missing sensor id in measurement {"value":1}'


def test_batch_limit() -> None:
    batch = [{"sensor_id": SENSOR, "value": str(i)} for i in range(MAX_MEASUREMENTS + 1)]
    assert len(validate_measurements(batch[:MAX_MEASUREMENTS], RECEIVED_AT)) == MAX_MEASUREMENTS
    with pytest.raises(OsemError) as caught:
        validate_measurements(batch, RECEIVED_AT)
    want = next(r for r in RULES["batch_rules"] if r.startswith("At most"))
    assert f'"{caught.value.message}"' in want


def test_first_invalid_measurement_rejects_all() -> None:
    batch = [
        {"sensor_id": SENSOR, "value": "1"},
        {"sensor_id": SENSOR, "value": "x"},
        {"value": "2"},
    ]
    with pytest.raises(OsemError) as caught:
        validate_measurements(batch, RECEIVED_AT)
    assert caught.value.message == f"Invalid value in measurement {stringify(batch[1])}"
