"""Serializers and deserializers against confluent-kafka's in-memory ``mock://`` registry."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import DeviceEvent, SensorReading
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, Contract
from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import ContractError, DecodeError, RegistryUnavailable
from iotpipe.paths import REPO_DIR

EXAMPLES = REPO_DIR / "generated" / "examples"


@pytest.fixture
def serde() -> ContractSerde:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    return ContractSerde(registry, Contract.load(), auto_register=True)


def example(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((EXAMPLES / f"dev.iotpipe.{name}.json").read_text())
    return data


def test_both_record_types_round_trip(serde: ContractSerde) -> None:
    for record in (
        SensorReading.model_validate(example("SensorReading")),
        DeviceEvent.model_validate(example("DeviceEvent")),
    ):
        value = serde.encode(record)
        headers = serde.headers(record)
        assert headers == [(RECORD_TYPE_HEADER, f"dev.iotpipe.{type(record).__name__}".encode())]
        assert serde.decode(value, headers) == record


def test_without_registration_an_unknown_schema_is_an_error() -> None:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    strict = ContractSerde(registry, Contract.load(), auto_register=False)
    with pytest.raises(ContractError, match="encoding SensorReading"):
        strict.encode(SensorReading.model_validate(example("SensorReading")))


def test_decode_failures_are_dead_letters_with_a_reason(serde: ContractSerde) -> None:
    reading = SensorReading.model_validate(example("SensorReading"))
    value = serde.encode(reading)
    cases: list[tuple[bytes | None, list[tuple[str, str | bytes | None]], str]] = [
        (value, [], "missing-record-type"),
        (value, [(RECORD_TYPE_HEADER, b"dev.iotpipe.Nope")], "unknown-record-type"),
        (b"not avro at all", serde.headers(reading), "undecodable"),
        (value[:9], serde.headers(reading), "undecodable"),
        (None, serde.headers(reading), "empty-value"),
    ]
    for data, headers, reason in cases:
        with pytest.raises(DecodeError) as caught:
            serde.decode(data, headers)
        assert caught.value.reason == reason, (data, headers)


def test_a_reading_sent_as_a_device_event_does_not_decode(serde: ContractSerde) -> None:
    value = serde.encode(SensorReading.model_validate(example("SensorReading")))
    with pytest.raises(DecodeError) as caught:
        serde.decode(value, [(RECORD_TYPE_HEADER, b"dev.iotpipe.DeviceEvent")])
    assert caught.value.reason == "schema-mismatch"
    assert len(str(caught.value)) < 300


def test_an_unreachable_registry_is_a_retryable_error_not_a_crash() -> None:
    """The registry client raises its HTTP library's errors; they must become
    RegistryUnavailable (ingest answers 503, the sink pauses and retries)."""
    down = SchemaRegistryClient({"url": "http://127.0.0.1:1", "max.retries": 0})
    serde = ContractSerde(down, Contract.load())
    reading = SensorReading.model_validate(example("SensorReading"))
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        serde.encode(reading)
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        serde.decode(b"\x00\x00\x00\x00\x05abc", serde.headers(reading))
