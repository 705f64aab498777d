"""The record types of the contract, read from ``schemas/*.avsc``.

Every record type travels on the topic ``sensor-data``, keyed by device id, so that one
device's readings and events stay in order. Subjects follow the TopicRecordNameStrategy
(``sensor-data-<namespace.Name>``): several record types share the topic and each
evolves under its own subject, with FULL_TRANSITIVE compatibility.
"""

from __future__ import annotations

import importlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import BaseModel

from iotpipe.errors import ConfigError
from iotpipe.paths import project_path

__all__ = [
    "COMPATIBILITY",
    "DLQ_HEADERS",
    "DLQ_HEADER_PREFIX",
    "DLQ_TOPIC",
    "RECORD_TYPE_HEADER",
    "TOPIC",
    "TRACE_HEADER",
    "Codec",
    "Contract",
    "RecordType",
    "new_traceparent",
    "published_dir",
    "schemas_dir",
]

TOPIC = "sensor-data"
DLQ_TOPIC = f"{TOPIC}.dlq"
COMPATIBILITY = "FULL_TRANSITIVE"
RECORD_TYPE_HEADER = "iotpipe-record-type"
TRACE_HEADER = "traceparent"  # W3C Trace Context, propagated from the HTTP request


def new_traceparent() -> str:
    """A fresh W3C traceparent (version 00, random trace and span ids, sampled). The ids
    identify, they guard nothing: Python's PRNG (seeded from the OS) serves, at half the
    cost of two reads of the OS's randomness per request."""
    bits = _random_bits(192) | (1 << 191) | 1  # neither id may be all zeros
    return f"00-{bits >> 64:032x}-{bits & 0xFFFFFFFFFFFFFFFF:016x}-01"


_random_bits = random.Random().getrandbits  # noqa: S311 - identifiers, not secrets


# Dead letters keep the original key, value and headers and add these (format version 1).
DLQ_HEADER_PREFIX = "iotpipe-dlq-"
DLQ_HEADERS: dict[str, str] = {
    "version": "Format version of these headers: 1.",
    "reason": "Why: unknown-record-type (the writer schema is not a record type of the "
    "contract), record-type-mismatch (the optional iotpipe-record-type header names another "
    "type than the writer schema), unknown-schema, schema-mismatch, invalid, undecodable, "
    "empty-value, or refused (decoded, but the database would not store the document).",
    "error-class": "Class of the error raised while decoding.",
    "error-message": "The error's message (at most 1000 characters).",
    "schema-id": "Schema id read from the value's Confluent frame, if it has one.",
    "source-topic": "Topic the record was read from.",
    "source-partition": "Partition the record was read from.",
    "source-offset": "Offset of the record in that partition.",
    "time": "When the sink dead-lettered it (ISO 8601, UTC).",
    "attempts": "How many times it was dead-lettered (replays count).",
}
MODELS_PACKAGE = "generated.models"
CODECS_PACKAGE = "generated.codecs"


class Codec(Protocol):
    """What a generated codec module (``generated/codecs/<schema>.py``) offers."""

    FULLNAME: str
    SCHEMA: str

    def write(self, buf: bytearray, datum: Any) -> None: ...
    def encode(self, datum: Any) -> bytes: ...
    def encode_framed(self, frame: bytes, datums: Sequence[Any]) -> list[bytes | Exception]: ...
    def decode(self, data: bytes, pos: int = 0) -> dict[str, Any]: ...


def published_dir() -> Path:
    """The ``generated`` package folder: models, JSON Schemas, examples, AsyncAPI."""
    module = importlib.import_module("generated")
    return Path(str(module.__file__)).parent


def schemas_dir() -> Path:
    return project_path("schemas", "contract/schemas", "sensor_reading.avsc")


def canonical_json(schema: Any) -> str:
    """The one string form of a schema that is registered, looked up and published."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def module_name(schema_file: Path) -> str:
    return re.sub(r"\W", "_", schema_file.stem).lower()


@dataclass(frozen=True)
class RecordType:
    """One record type: its schema file, Avro names, subject and generated model."""

    schema_file: Path
    schema: dict[str, Any] = field(repr=False)
    topic: str = TOPIC

    @property
    def name(self) -> str:
        return str(self.schema["name"])

    @property
    def fullname(self) -> str:
        namespace = self.schema.get("namespace")
        return f"{namespace}.{self.name}" if namespace else self.name

    @property
    def subject(self) -> str:
        return f"{self.topic}-{self.fullname}"

    @cached_property
    def schema_str(self) -> str:
        return canonical_json(self.schema)

    @property
    def module(self) -> str:
        return f"{MODELS_PACKAGE}.{module_name(self.schema_file)}"

    @property
    def codec_module(self) -> str:
        return f"{CODECS_PACKAGE}.{module_name(self.schema_file)}"

    def codec(self) -> Codec:
        """The generated Avro encoder and decoder of this record type (imported on first
        use); ``codec.SCHEMA`` is the schema text it was generated from."""
        module = importlib.import_module(self.codec_module)
        if getattr(module, "FULLNAME", None) != self.fullname:
            raise ConfigError(f"{self.codec_module} is not the generated codec of {self.fullname}")
        return cast(Codec, module)

    def model(self) -> type[BaseModel]:
        """The generated Pydantic model (imported on first use)."""
        cls = getattr(importlib.import_module(self.module), self.name)
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            raise ConfigError(f"{self.module}.{self.name} is not a generated model")
        return cls


@dataclass(frozen=True)
class Contract:
    record_types: tuple[RecordType, ...]

    @classmethod
    def load(cls, folder: Path | None = None) -> Contract:
        folder = folder or schemas_dir()
        types = []
        for path in sorted(folder.glob("*.avsc")):
            try:
                schema = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
            if not isinstance(schema, dict) or schema.get("type") != "record":
                raise ConfigError(f"{path} must hold one Avro record schema")
            types.append(RecordType(schema_file=path, schema=schema))
        if not types:
            raise ConfigError(f"no .avsc schema in {folder}")
        return cls(tuple(types))

    def on_topic(self, topic: str) -> Contract:
        """The same record types on another topic (benchmarks', tests' own topics)."""
        return Contract(
            tuple(
                RecordType(schema_file=t.schema_file, schema=t.schema, topic=topic)
                for t in self.record_types
            )
        )

    def by_name(self, name: str) -> RecordType:
        for record_type in self.record_types:
            if name in (record_type.name, record_type.fullname):
                return record_type
        raise KeyError(name)
