"""Serializers and deserializers against confluent-kafka's in-memory ``mock://`` registry."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import parse_schema, schemaless_writer

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
    foreign = {"type": "record", "name": "Other", "namespace": "com.example", "fields": []}
    foreign_id = serde._registry.register_schema(
        "sensor-data-com.example.Other", Schema(json.dumps(foreign), "AVRO")
    )
    cases: list[tuple[bytes | None, list[tuple[str, str | bytes | None]], str]] = [
        (value, [(RECORD_TYPE_HEADER, b"dev.iotpipe.Nope")], "record-type-mismatch"),
        (b"\x00" + foreign_id.to_bytes(4, "big"), [], "unknown-record-type"),
        (b"not avro at all", serde.headers(reading), "undecodable"),
        (value[:9], serde.headers(reading), "undecodable"),
        (None, serde.headers(reading), "empty-value"),
    ]
    for data, headers, reason in cases:
        with pytest.raises(DecodeError) as caught:
            serde.decode(data, headers)
        assert caught.value.reason == reason, (data, headers)


def test_the_record_type_comes_from_the_writer_schema_not_a_header(serde: ContractSerde) -> None:
    """A producer that follows the Confluent wire format alone (no iotpipe header) is read
    like ours: the frame's schema id names the writer schema, whose full name is the type."""
    for record in (
        SensorReading.model_validate(example("SensorReading")),
        DeviceEvent.model_validate(example("DeviceEvent")),
    ):
        assert serde.decode(serde.encode(record), None) == record
        assert serde.decode(serde.encode(record), [("traceparent", b"00-ab-cd-01")]) == record


def test_a_header_naming_another_type_than_the_writer_schema_is_a_dead_letter(
    serde: ContractSerde,
) -> None:
    value = serde.encode(SensorReading.model_validate(example("SensorReading")))
    with pytest.raises(DecodeError) as caught:
        serde.decode(value, [(RECORD_TYPE_HEADER, b"dev.iotpipe.DeviceEvent")])
    assert caught.value.reason == "record-type-mismatch"
    assert "dev.iotpipe.SensorReading" in str(caught.value)
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


def test_values_are_byte_identical_to_confluents_avro_serializer(serde: ContractSerde) -> None:
    """The reference implementation: confluent-kafka's AvroSerializer (with the model's
    dump) writes the very bytes the generated codec writes behind the same frame."""

    contract = Contract.load()
    for record in (
        SensorReading.model_validate(example("SensorReading")),
        DeviceEvent.model_validate(example("DeviceEvent")),
    ):
        record_type = contract.by_name(type(record).__name__)
        ours = serde.encode(record)
        reference = AvroSerializer(
            serde._registry,
            record_type.schema_str,
            conf={"subject.name.strategy": topic_record_subject_name_strategy},
        )(record.model_dump(), SerializationContext("sensor-data", MessageField.VALUE))
        assert ours == reference


def test_the_generated_decoder_reads_its_own_schema_and_fastavro_resolves_others() -> None:
    """A writer schema id that maps to the schema a codec was generated from is read by
    that codec; any other (an older producer's) by fastavro, resolved to today's schema."""
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    serde = ContractSerde(registry, Contract.load(), auto_register=True)
    reading = SensorReading.model_validate(example("SensorReading"))
    value = serde.encode(reading)
    headers = serde.headers(reading)
    assert serde.decode_plan(value) == ("dev.iotpipe.SensorReading", "generated")
    assert serde.decode(value, headers) == reading

    # An older SensorReading without quality and metadata, registered under its own subject.
    older = json.loads(Contract.load().by_name("SensorReading").schema_str)
    older["fields"] = [f for f in older["fields"] if f["name"] not in {"quality", "metadata"}]
    older_id = registry.register_schema("older-dev.iotpipe.SensorReading",
                                        Schema(json.dumps(older), "AVRO"))  # fmt: skip
    body = io.BytesIO()
    datum = reading.model_dump(exclude={"quality", "metadata"})
    schemaless_writer(body, parse_schema(older), datum)
    framed = b"\x00" + older_id.to_bytes(4, "big") + body.getvalue()
    assert serde.decode_plan(framed) == ("dev.iotpipe.SensorReading", "resolved")
    decoded = serde.decode(framed, headers)
    assert decoded == reading.model_copy(update={"quality": None, "metadata": {}})
