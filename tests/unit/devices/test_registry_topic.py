"""Registry records: boxes round-trip without their raw token; bad records are skipped."""

from __future__ import annotations

import json
import logging

import pytest

from iotpipe.devices.boxes import hash_token
from iotpipe.devices.topic import (
    RECORD_VERSION,
    RegistryRecord,
    decode_record,
    encode_box,
    encode_removal,
)
from iotpipe.errors import ConfigError
from tests.unit.devices.registry_fakes import BOX_ID, TOKEN, box, box_json


def test_a_box_round_trips_with_its_token_hashed_only() -> None:
    original = box(name="Münster Oststr")
    key, value = encode_box(original)
    assert key == BOX_ID.encode()
    assert TOKEN.encode() not in value
    assert json.loads(value)["version"] == RECORD_VERSION
    assert json.loads(value)["box"]["access_token_sha256"] == hash_token(TOKEN)
    record = decode_record(key, value, timestamp_ms=1234)
    assert isinstance(record, RegistryRecord)
    assert (record.box_id, record.timestamp_ms) == (BOX_ID, 1234)
    assert record.box == original
    assert record.box is not None
    assert record.box.token_matches(TOKEN)
    assert not record.box.token_matches("wrong")
    assert record.box.location == (7.64568, 51.962372, None)


def test_a_tombstone_removes_and_a_removal_needs_a_box_id() -> None:
    key, value = encode_removal(BOX_ID.upper())
    assert (key, value) == (BOX_ID.encode(), None)
    record = decode_record(key, value)
    assert isinstance(record, RegistryRecord)
    assert (record.box_id, record.box) == (BOX_ID, None)
    with pytest.raises(ConfigError, match="24 hex characters"):
        encode_removal("not-a-box")


def _value(**changes: object) -> bytes:
    data: dict[str, object] = {"version": RECORD_VERSION, "box": box().as_registry()}
    data.update(changes)
    return json.dumps(data).encode()


OTHER_ID = "5a1100000000000000d10000"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        (None, _value(), "has no key"),
        (b"sensebox-1", _value(), "is not a box id"),
        (b"\xff" * 24, _value(), "not ASCII"),
        (BOX_ID.encode(), b"{not json", "not JSON"),
        (BOX_ID.encode(), b"[1, 2]", "not a JSON object"),
        (BOX_ID.encode(), _value(version=2), "version 2 is not 1"),
        (BOX_ID.encode(), _value(box="x"), "no 'box' object"),
        (BOX_ID.encode(), _value(box={**box_json(), "sensors": "x"}), "'sensors' must be a list"),
        (OTHER_ID.encode(), _value(), f"the key says box {OTHER_ID}"),
    ],
)
def test_a_bad_record_is_skipped_with_a_warning_naming_it(
    key: bytes | None, value: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="iotpipe.devices.topic"):
        assert decode_record(key, value, where="iotpipe.devices[0]@7") is None
    assert "iotpipe.devices[0]@7 skipped" in caplog.text
    assert says in caplog.text
