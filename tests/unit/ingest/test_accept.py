from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from generated.models import SensorReading
from ingest.domain.accept import (
    Accepted,
    Entropy,
    Policy,
    Receipt,
    Rejected,
    accept,
    accept_all,
    pointer,
)
from tests.unit.ingest.conftest import DEVICE, reading

NOW = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
POLICY = Policy(max_future_skew=timedelta(minutes=5), max_age=timedelta(days=7))


def test_event_id_is_assigned_and_ingest_time_stamped_at_millisecond_precision() -> None:
    verdict = accept(
        reading(event_time=NOW.isoformat(), ingest_time="1999-01-01T00:00:00Z"),
        SensorReading,
        Receipt(POLICY, NOW),
    )
    assert isinstance(verdict, Accepted)
    record = verdict.record
    assert isinstance(record, SensorReading)
    assert record.event_id.version == 4
    assert record.ingest_time == NOW.replace(microsecond=123000)  # the client's is ignored


def test_client_event_id_is_kept() -> None:
    given = "0b8f6e2a-6f43-4c8e-9a55-4f1f5a3c2d10"
    verdict = accept(
        reading(event_id=given, event_time=NOW.isoformat()), SensorReading, Receipt(POLICY, NOW)
    )
    assert isinstance(verdict, Accepted)
    assert str(getattr(verdict.record, "event_id", "")) == given
    assert verdict.event_id == given


def test_the_event_id_is_answered_in_canonical_text() -> None:
    given = "0B8F6E2A-6F43-4C8E-9A55-4F1F5A3C2D10"  # upper case
    verdict = accept(
        reading(event_id=given, event_time=NOW.isoformat()), SensorReading, Receipt(POLICY, NOW)
    )
    assert isinstance(verdict, Accepted)
    assert verdict.event_id == "0b8f6e2a-6f43-4c8e-9a55-4f1f5a3c2d10"
    assigned = accept(reading(event_time=NOW.isoformat()), SensorReading, Receipt(POLICY, NOW))
    assert isinstance(assigned, Accepted)
    assert assigned.event_id == str(getattr(assigned.record, "event_id", ""))


def test_epoch_seconds_and_milliseconds_are_accepted() -> None:
    for value in (NOW.timestamp(), int(NOW.timestamp() * 1000)):
        verdict = accept(reading(event_time=value), SensorReading, Receipt(POLICY, NOW))
        assert isinstance(verdict, Accepted), verdict


def test_late_data_policy() -> None:
    future = accept(
        reading(event_time=(NOW + timedelta(minutes=6)).isoformat()),
        SensorReading,
        Receipt(POLICY, NOW),
    )
    old = accept(
        reading(event_time=(NOW - timedelta(days=8)).isoformat()),
        SensorReading,
        Receipt(POLICY, NOW),
    )
    assert isinstance(future, Rejected)
    assert [(e.code, e.pointer) for e in future.errors] == [("event_time_in_future", "/event_time")]
    assert "300s ahead" in future.errors[0].message
    assert isinstance(old, Rejected)
    assert old.errors[0].code == "event_time_too_old"
    edge = accept(
        reading(event_time=(NOW + timedelta(minutes=4)).isoformat()),
        SensorReading,
        Receipt(POLICY, NOW),
    )
    assert isinstance(edge, Accepted)


def test_a_device_key_only_publishes_for_its_device() -> None:
    policy = Policy(POLICY.max_future_skew, POLICY.max_age, frozenset({DEVICE}))
    mine = accept(reading(event_time=NOW.isoformat()), SensorReading, Receipt(policy, NOW))
    theirs = accept(
        reading(device_id="other", event_time=NOW.isoformat()), SensorReading, Receipt(policy, NOW)
    )
    assert isinstance(mine, Accepted)
    assert isinstance(theirs, Rejected)
    assert theirs.forbidden


def test_every_error_of_a_record_is_reported_with_its_pointer() -> None:
    verdict = accept(
        reading(value="warm", location={"latitude": 100}, unit=""),
        SensorReading,
        Receipt(POLICY, NOW),
    )
    assert isinstance(verdict, Rejected)
    assert sorted(e.pointer for e in verdict.errors) == [
        "/location/latitude",
        "/location/longitude",
        "/unit",
        "/value",
    ]


def test_non_objects_are_rejected() -> None:
    verdict = accept([1, 2], SensorReading, Receipt(POLICY, NOW))
    assert isinstance(verdict, Rejected)
    assert verdict.errors[0].message == "expected a JSON object, got list"


def test_pointer_escapes_per_rfc_6901() -> None:
    assert pointer(["metadata", "a/b~c", 0]) == "/metadata/a~1b~0c/0"


def test_assigned_event_ids_are_version_4_uuids_in_canonical_text() -> None:
    receipt = Receipt(POLICY, NOW, size=20_000)
    ids = [receipt.event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # every variant digit (8, 9, a, b) occurs: the bits come from the random byte
    assert {text[19] for text in ids} == set("89ab")


def test_ids_of_one_receipt_are_distinct_version_4_uuids_across_refills() -> None:
    receipt = Receipt(POLICY, NOW, size=3)  # 10 ids: three reads of the OS's randomness
    ids = [receipt.event_id() for _ in range(10)]
    assert len(set(ids)) == 10
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_a_receipt_holds_the_policy_bounds_of_its_receive_time() -> None:
    receipt = Receipt(POLICY, NOW)
    assert receipt.now == NOW.replace(microsecond=123000)
    assert receipt.latest == receipt.now + timedelta(minutes=5)
    assert receipt.earliest == receipt.now - timedelta(days=7)
    assert Receipt(Policy(timedelta(0), None), NOW).earliest is None


def test_accepting_a_batch_in_one_call_judges_each_record_as_alone() -> None:
    """accept_all (one validation call for the batch) gives each record the verdict
    accept gives it alone: errors, pointers, policy, assigned and given ids."""
    policy = Policy(POLICY.max_future_skew, POLICY.max_age, frozenset({DEVICE}))
    given = "0B8F6E2A-6F43-4C8E-9A55-4F1F5A3C2D10"
    raws = [
        reading(event_id=given, event_time=NOW.isoformat()),
        reading(value="warm", location={"latitude": 100}, event_time=NOW.isoformat()),
        [1, 2],
        None,
        reading(device_id="other", event_time=NOW.isoformat()),
        reading(event_time=(NOW + timedelta(minutes=6)).isoformat()),
        reading(event_id=given.lower(), event_time=NOW.isoformat(), unknown=1),
        reading(event_id=given.lower(), event_time=NOW.isoformat()),
    ]
    for batch in (raws, raws[:1], [raws[0], raws[7]], [raws[1]], []):
        together = accept_all(batch, SensorReading, Receipt(policy, NOW))
        alone = [accept(raw, SensorReading, Receipt(policy, NOW)) for raw in batch]
        assert [_shape(v) for v in together] == [_shape(v) for v in alone]
    assigned = accept_all([reading(event_time=NOW.isoformat())] * 3, SensorReading,
                          Receipt(policy, NOW))  # fmt: skip
    ids = [v.event_id for v in assigned if isinstance(v, Accepted)]
    assert len(set(ids)) == 3


def _shape(verdict: Accepted | Rejected) -> object:
    if isinstance(verdict, Accepted):
        return ("accepted", verdict.event_id, verdict.record.model_dump())
    return ("rejected", [(e.code, e.pointer, e.message) for e in verdict.errors])


def test_entropy_hands_out_each_random_digit_once_across_refills() -> None:
    entropy = Entropy(chunk=48)  # three 32-digit draws per read of the OS's randomness
    drawn = [entropy.hex32() for _ in range(50)]
    assert len(set(drawn)) == 50
    assert all(len(d) == 32 and int(d, 16) >= 0 for d in drawn)
