"""Device states on the registry topic: records round-trip, bad ones are skipped, and
every reader (ingest's follower, `devices list`) keeps boxes and states apart."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from iotpipe.contract.catalog import Contract
from iotpipe.devices.follower import RegistryFollower
from iotpipe.devices.reader import RegistryReader
from iotpipe.devices.states import DEVICE_ID, SILENCED, DeviceState, StateRecord
from iotpipe.devices.topic import (
    RECORD_VERSION,
    RegistryRecord,
    decode_record,
    encode_box,
    encode_state,
)
from iotpipe.errors import ConfigError
from tests.unit.devices.registry_fakes import BOX_ID, FakeConsumer, box

TOPIC = "iotpipe.devices"


def test_a_state_round_trips_under_a_key_no_box_id_can_have() -> None:
    key, value = encode_state("sensebox-5f2b6c9e", DeviceState.RETIRED, "replaced, März")
    assert key == b"state/sensebox-5f2b6c9e"
    assert json.loads(value) == {
        "version": RECORD_VERSION,
        "state": {"device_id": "sensebox-5f2b6c9e", "state": "retired", "reason": "replaced, März"},
    }
    record = decode_record(key, value, timestamp_ms=1_764_000_000_000)
    assert record == StateRecord(
        "sensebox-5f2b6c9e",
        DeviceState.RETIRED,
        "replaced, März",
        datetime.fromtimestamp(1_764_000_000, UTC),
    )
    # A box's id is a device id too (device_id = box id): its state has a key of its own.
    assert encode_state(BOX_ID, DeviceState.PAUSED)[0] != encode_box(box())[0]


def test_the_device_id_rule_is_the_contracts() -> None:
    field = next(
        f
        for f in Contract.load().by_name("SensorReading").schema["fields"]
        if f["name"] == "device_id"
    )
    assert DEVICE_ID.pattern == field["rules"]["pattern"]
    with pytest.raises(ConfigError, match="not a device id"):
        encode_state("no/slash", DeviceState.PAUSED)


def test_a_state_tombstone_reads_as_active() -> None:
    record = decode_record(b"state/dev-1", None)
    assert record == StateRecord("dev-1", DeviceState.ACTIVE)


def _state(**body: object) -> bytes:
    return json.dumps({"version": RECORD_VERSION, "state": body}).encode()


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        (b"state/dev-1", _state(device_id="dev-1", state="gone"), "none of active"),
        (b"state/dev-1", _state(device_id="dev-2", state="paused"), "the key says device dev-1"),
        (b"state/-x", _state(device_id="-x", state="paused"), "not a device id"),
        (b"state/dev-1", b"[]", "not a JSON object"),
        (b"state/dev-1", json.dumps({"version": 2, "state": {}}).encode(), "version 2"),
        (b"state/dev-1", json.dumps({"version": 1}).encode(), "no 'state' object"),
    ],
)
def test_a_bad_state_record_is_skipped_with_a_warning(
    key: bytes, value: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="iotpipe.devices.topic"):
        assert decode_record(key, value, where="iotpipe.devices[0]@3") is None
    assert "iotpipe.devices[0]@3 skipped" in caplog.text
    assert says in caplog.text


def test_silenced_states_are_paused_and_retired() -> None:
    assert {s.value for s in SILENCED} == {"paused", "retired"}


def test_a_reader_without_a_state_callback_sees_boxes_only() -> None:
    consumer = FakeConsumer(TOPIC)
    consumer.append(*encode_state("dev-1", DeviceState.RETIRED))
    consumer.put(box())
    seen: list[RegistryRecord] = []
    reader = RegistryReader(consumer, TOPIC, seen.append)
    for _ in range(20):
        reader.step(0)
    assert reader.caught_up.is_set()
    assert [r.box_id for r in seen] == [BOX_ID]


def test_the_follower_keeps_the_latest_state_of_each_device() -> None:
    consumer = FakeConsumer(TOPIC)
    consumer.append(*encode_state("dev-1", DeviceState.PAUSED, "winter"))
    consumer.append(*encode_state("dev-2", DeviceState.RETIRED))
    consumer.append(*encode_state("dev-1", DeviceState.ACTIVE, "spring"))
    consumer.put(box())
    follower = RegistryFollower(consumer, TOPIC, poll_seconds=0.01, refresh_seconds=0.05)
    follower.start()
    try:
        assert follower.wait_caught_up(3)
        one, two = follower.state_of("dev-1"), follower.state_of("dev-2")
        assert one is not None and (one.state, one.reason) == (DeviceState.ACTIVE, "spring")
        assert two is not None and two.state is DeviceState.RETIRED
        assert follower.state_of("dev-3") is None
        assert [b.id for b in follower.all()] == [BOX_ID]  # states are not boxes
    finally:
        follower.close()
