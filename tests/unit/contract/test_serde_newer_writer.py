"""A reader on today's contract decoding records of a newer writer (a schema change rolling
out: new producers, sinks not yet upgraded), against the ``mock://`` registry. The newer
writer's fields today's schema lacks are kept as written; today's fields still resolve
(a newer enum symbol reads as the reader's default) and validate."""

from __future__ import annotations

import copy
import io
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer
from pydantic import AwareDatetime, BaseModel, Field, create_model

from generated.models import DeviceEvent, SensorReading
from generated.models.sensor_reading import ReadingQuality, SensorKind
from iotpipe.contract.base import ContractModel
from iotpipe.contract.catalog import Contract, RecordType
from iotpipe.contract.extras import unknown_fields
from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import DecodeError
from iotpipe.paths import REPO_DIR
from sink.documents import to_document

EXAMPLES = REPO_DIR / "generated" / "examples"
TODAY = Contract.load()
READING = TODAY.by_name("SensorReading")
STORED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CALIBRATED = datetime(2026, 11, 2, 9, 30, 15, 250_000, tzinfo=UTC)
SEEN = datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)  # before 1970: negative millis
BATCH = uuid.UUID("9f0c2a5e-1d2b-4c3d-8e4f-5a6b7c8d9e0f")
NEW_FIELDS: list[dict[str, Any]] = [
    {"name": "uncertainty", "type": ["null", "double"], "default": None},
    {
        "name": "calibration",
        "type": [
            "null",
            {
                "type": "record",
                "name": "Calibration",
                "fields": [
                    {"name": "lab", "type": "string"},
                    {
                        "name": "grade",
                        "type": {
                            "type": "enum",
                            "name": "CalibrationGrade",
                            "symbols": ["A", "B", "C"],
                            "default": "C",
                        },
                    },
                    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                    {"name": "trace", "type": {"type": "array", "items": "string"}, "default": []},
                ],
            },
        ],
        "default": None,
    },
    {
        "name": "seen_at",
        "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
        "default": None,
    },
    {
        "name": "channel",
        "type": {"type": "enum", "name": "Channel", "symbols": ["RADIO", "WIRED"]},
        "default": "RADIO",
    },
    {
        "name": "batch_id",
        "type": {"type": "string", "logicalType": "uuid"},
        "default": "00000000-0000-0000-0000-000000000000",
    },
]
SET = {
    "uncertainty": 0.25,
    "calibration": {"lab": "ptb", "grade": "B", "at": CALIBRATED, "trace": ["x", "y"]},
    "seen_at": SEEN,
    "channel": "WIRED",
    "batch_id": BATCH,
}
UNSET = {
    "uncertainty": None,
    "calibration": None,
    "seen_at": None,
    "channel": "RADIO",
    "batch_id": uuid.UUID(int=0),
}


def newer_schema(base: RecordType = READING, fields: list[dict[str, Any]] = NEW_FIELDS) -> Any:
    """Today's schema with more fields, a sensor kind and a quality of its own."""
    schema = json.loads(base.schema_str)
    for field in schema["fields"]:
        if field["name"] == "sensor_kind":
            field["type"]["symbols"].append("RADIATION")
        if field["name"] == "quality":
            field["type"][1]["symbols"].append("CALIBRATING")
    schema["fields"] += copy.deepcopy(fields)
    return schema


def reading(**changes: Any) -> SensorReading:
    data = json.loads((EXAMPLES / "dev.iotpipe.SensorReading.json").read_text())
    return SensorReading.model_validate({**data, "event_id": str(uuid.uuid4()), **changes})


class World:
    """A mock registry with today's contract and a newer writer schema registered under
    the same subject, and today's serde (an old sink)."""

    def __init__(self, schema: Any = None) -> None:
        self.registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
        self.today = ContractSerde(self.registry, TODAY, auto_register=True)
        self.today.frame(READING)  # today's version first
        self.schema = schema if schema is not None else newer_schema()
        self.schema_id = self.registry.register_schema(
            READING.subject, Schema(json.dumps(self.schema), "AVRO")
        )

    def write(self, datum: dict[str, Any]) -> bytes:
        """A record in the Confluent wire format, as the newer producer writes it."""
        body = io.BytesIO()
        schemaless_writer(body, parse_schema(self.schema), datum)
        return b"\x00" + self.schema_id.to_bytes(4, "big") + body.getvalue()


def document(record: BaseModel) -> dict[str, Any]:
    return to_document(record, partition=1, offset=7, stored=STORED)


def test_the_newer_writers_fields_are_kept_as_written() -> None:
    world = World()
    sent = reading()
    value = world.write({**sent.model_dump(), **SET})
    assert world.today.decode_plan(value) == (READING.fullname, "resolved")

    decoded = world.today.decode(value, None)
    assert isinstance(decoded, SensorReading)
    assert type(decoded).__name__ == "SensorReading"  # the collection is the same
    assert decoded.model_dump(include=set(SensorReading.model_fields)) == sent.model_dump()
    carried = {name: getattr(decoded, name) for name in SET}
    assert carried == SET
    calibration = carried["calibration"]
    assert type(calibration["grade"]) is str
    assert type(calibration["at"]) is datetime
    assert calibration["at"].utcoffset() == UTC.utcoffset(None)
    assert type(carried["seen_at"]) is datetime

    stored = document(decoded)
    known = [k for k in document(sent) if k not in {"stored_time", "source"}]
    assert list(stored) == [*known, *SET, "stored_time", "source"]  # where a new sink has them
    assert stored == {**document(sent), **SET, "batch_id": str(BATCH)}  # as BSON holds it

    unset = world.today.decode(world.write({**sent.model_dump(), **UNSET}), None)
    assert document(unset) == {**document(sent), **UNSET, "batch_id": str(uuid.UUID(int=0))}


def test_a_newer_symbol_of_todays_enums_reads_as_the_readers_default() -> None:
    world = World()
    sent = reading(sensor_kind="TEMPERATURE", quality="GOOD")
    datum = {**sent.model_dump(), **SET, "sensor_kind": "RADIATION", "quality": "CALIBRATING"}
    decoded = world.today.decode(world.write(datum), None)
    assert decoded.sensor_kind is SensorKind.OTHER  # type: ignore[attr-defined]
    assert decoded.quality is ReadingQuality.UNKNOWN  # type: ignore[attr-defined]
    assert getattr(decoded, "calibration") == SET["calibration"]  # noqa: B009 - not declared
    stored = document(decoded)
    assert (stored["sensor_kind"], stored["quality"], stored["uncertainty"]) == (
        "OTHER",
        "UNKNOWN",
        0.25,
    )


class CalibrationGrade(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class Channel(StrEnum):
    RADIO = "RADIO"
    WIRED = "WIRED"


class Calibration(ContractModel):
    lab: str
    grade: CalibrationGrade = CalibrationGrade.C
    at: AwareDatetime
    trace: list[str] = Field(default_factory=list)


def test_an_old_and_a_new_reader_store_the_same_document() -> None:
    """A sink on the newer contract (its model declares the new fields, nested model and
    enums included) and one on today's store the same document for the same record."""
    newer_model = create_model(
        "SensorReading",
        __base__=SensorReading,
        uncertainty=(float | None, None),
        calibration=(Calibration | None, None),
        seen_at=(AwareDatetime | None, None),
        channel=(Channel, Channel.RADIO),
        batch_id=(uuid.UUID, uuid.UUID(int=0)),
    )
    world = World()
    newer = Contract((RecordType(READING.schema_file, world.schema),))
    upgraded = ContractSerde(world.registry, newer, models={READING.fullname: newer_model})
    for extras in (SET, UNSET):
        value = world.write({**reading().model_dump(), **extras})
        assert upgraded.decode_plan(value) == (READING.fullname, "generated")
        assert document(world.today.decode(value, None)) == document(upgraded.decode(value, None))


def test_an_older_writer_gets_todays_defaults_and_todays_writer_todays_model() -> None:
    """The other direction: an upgraded sink reading a record of a writer without its
    newest fields stores their defaults; a record of today's writer is read by the
    generated decoder into the generated model itself (the hot path: nothing carried)."""
    world = World()
    sent = reading(quality="GOOD", metadata={"calibration": "2026-10"})
    value = world.today.encode(sent)
    assert world.today.decode_plan(value) == (READING.fullname, "generated")
    assert type(world.today.decode(value, None)) is SensorReading

    older = json.loads(READING.schema_str)
    older["fields"] = [f for f in older["fields"] if f["name"] not in {"quality", "metadata"}]
    old = World(older)
    decoded = old.today.decode(old.write(sent.model_dump(exclude={"quality", "metadata"})), None)
    assert type(decoded) is SensorReading
    assert document(decoded) == {**document(sent), "quality": None, "metadata": {}}


def test_a_device_event_of_a_newer_writer_keeps_its_new_field() -> None:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    serde = ContractSerde(registry, TODAY, auto_register=True)
    record_type = TODAY.by_name("DeviceEvent")
    schema = json.loads(record_type.schema_str)
    schema["fields"].append({"name": "reboots", "type": ["null", "int"], "default": None})
    schema_id = registry.register_schema(record_type.subject, Schema(json.dumps(schema), "AVRO"))
    sent = DeviceEvent.model_validate(json.loads((EXAMPLES / "dev.iotpipe.DeviceEvent.json")
                                                 .read_text()))  # fmt: skip
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(schema), {**sent.model_dump(), "reboots": 3})
    decoded = serde.decode(b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue(), None)
    assert isinstance(decoded, DeviceEvent)
    assert document(decoded) == {**document(sent), "reboots": 3}


@pytest.mark.parametrize("name", ["_hidden", "model_dump", "copy"])
def test_a_new_field_a_model_cannot_hold_is_a_dead_letter_naming_it(name: str) -> None:
    """A name Pydantic keeps for itself cannot be carried: the record is a dead letter
    (its bytes kept for a re-drive by an upgraded sink), never stored without it."""
    field = {"name": name, "type": ["null", "string"], "default": None}
    world = World(newer_schema(fields=[field]))
    value = world.write({**reading().model_dump(), name: "kept"})
    with pytest.raises(DecodeError) as caught:
        world.today.decode(value, None)
    assert caught.value.reason == "schema-mismatch"
    assert name in str(caught.value)


def test_unknown_fields_are_the_writers_that_no_reader_field_names_or_aliases() -> None:
    reader = {"fields": [{"name": "a"}, {"name": "b", "aliases": ["old_b"]}]}
    writer = {"fields": [{"name": "z"}, {"name": "old_b"}, {"name": "a"}, {"name": "c"}]}
    assert unknown_fields(writer, reader) == ("z", "c")
    assert unknown_fields(reader, reader) == ()
