"""Avro serializers and deserializers for every record type, built in one place.

confluent-kafka's AvroSerializer does the Confluent framing and the registry lookups on
the way out (the registry client is passed in, so unit tests use ``mock://``); decoding
reads the same framing with fastavro, the writer schema fetched by id through the same
registry client (cached), into the generated Pydantic models.
Subjects follow TopicRecordNameStrategy, set explicitly so no other lookup is made.

Records of several types share a topic; each carries the ``iotpipe-record-type``
header, and the decoder reads the record with that type's current schema as reader
schema (Avro resolution from the writer schema named by the id in the frame), so a
record written with an older compatible schema decodes into today's model.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from fastavro import parse_schema, schemaless_reader
from fastavro.read import SchemaResolutionError
from pydantic import BaseModel, ValidationError

from iotpipe.contract.catalog import (
    RECORD_TYPE_HEADER,
    TOPIC,
    Contract,
    RecordType,
    canonical_json,
)
from iotpipe.errors import ContractError, DecodeError, RegistryUnavailable

__all__ = ["ContractSerde", "Headers"]

Headers = Sequence[tuple[str, bytes | str | None]]


def _record_unions(schema: dict[str, Any]) -> dict[str, str]:
    """Field name -> full name of the record branch, for fields whose type is a union
    holding a record (fastavro writes a ``(name, value)`` pair without trying branches)."""
    namespace = schema.get("namespace", "")
    found = {}
    for field in schema["fields"]:
        if isinstance(field["type"], list):
            for branch in field["type"]:
                if isinstance(branch, dict) and branch.get("type") == "record":
                    name = branch["name"]
                    found[field["name"]] = name if "." in name else f"{namespace}.{name}"
    return found


def _to_dict_for(schema: dict[str, Any]) -> Any:
    """The model's own field values (a shallow copy, 6x cheaper than ``model_dump``),
    nested models as dicts, and record-union branches named for fastavro."""
    unions = _record_unions(schema)

    def to_dict(record: BaseModel, _ctx: SerializationContext | None) -> dict[str, Any]:
        data = dict(record.__dict__)
        for name, value in data.items():
            if isinstance(value, BaseModel):
                nested = value.model_dump()
                data[name] = (unions[name], nested) if name in unions else nested
            elif isinstance(value, list) and any(isinstance(v, BaseModel) for v in value):
                return record.model_dump()  # not in today's schemas: take the slow path
        return data

    return to_dict


_FRAME = 5  # magic byte + schema id
_TRANSPORT_MODULES = {"httpx", "httpx2", "requests", "urllib3", "httpcore"}


def _is_transport(exc: BaseException) -> bool:
    """A failure to reach the registry (the client raises its HTTP library's errors)."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    return any(cls.__module__.split(".")[0] in _TRANSPORT_MODULES for cls in type(exc).__mro__)


def _registry_error(exc: Exception, what: str) -> ContractError:
    code = getattr(exc, "http_status_code", None)
    if isinstance(exc, SchemaRegistryError) and code is not None and 0 < code < 500:
        return ContractError(f"{what}: the registry refused ({exc})")
    return RegistryUnavailable(f"{what}: schema registry unavailable ({exc})")


class ContractSerde:
    """Encode models to Kafka values and decode values back, for one contract."""

    def __init__(
        self,
        registry: SchemaRegistryClient,
        contract: Contract,
        *,
        auto_register: bool = False,
        models: Mapping[str, type[BaseModel]] | None = None,
    ) -> None:
        """``models`` maps a record type's full name to the model to decode it into
        (default: its generated model); tests of schema evolution pass newer ones."""
        self._contract = contract
        self._models = {
            t.fullname: (models or {}).get(t.fullname) or t.model() for t in contract.record_types
        }
        strategy = {"subject.name.strategy": topic_record_subject_name_strategy}
        self._serializers: dict[str, AvroSerializer] = {}
        self._registry = registry
        # Decoding: the reader schema per record type, and per (type, writer schema id)
        # the parsed writer schema (None where it is the reader's: nothing to resolve).
        self._readers: dict[str, Any] = {}
        self._plans: dict[tuple[str, int], tuple[Any, Any]] = {}
        # Per model class: its record type and the header naming it (looked up once per
        # class, not for every record).
        self._by_class: dict[type[BaseModel], tuple[RecordType, bytes]] = {}
        for record_type in contract.record_types:
            self._serializers[record_type.fullname] = AvroSerializer(
                registry,
                record_type.schema_str,
                to_dict=_to_dict_for(record_type.schema),
                conf={
                    "auto.register.schemas": auto_register,
                    "use.latest.version": False,
                    **strategy,
                },
            )
            self._readers[record_type.fullname] = parse_schema(
                json.loads(record_type.schema_str), named_schemas={}
            )

    def _lookup(self, record: BaseModel) -> tuple[RecordType, bytes]:
        cls = type(record)
        found = self._by_class.get(cls)
        if found is not None:
            return found
        for record_type in self._contract.record_types:
            if isinstance(record, self._models[record_type.fullname]) or (
                cls.__name__ == record_type.name
            ):
                found = self._by_class[cls] = (record_type, record_type.fullname.encode())
                return found
        raise ContractError(f"{cls.__name__} is not a contract record type")

    def record_type(self, record: BaseModel) -> RecordType:
        return self._lookup(record)[0]

    def headers(self, record: BaseModel) -> list[tuple[str, str | bytes | None]]:
        return [(RECORD_TYPE_HEADER, self._lookup(record)[1])]

    def encode(self, record: BaseModel, topic: str = TOPIC) -> bytes:
        record_type = self.record_type(record)
        ctx = SerializationContext(topic, MessageField.VALUE)
        try:
            encoded = self._serializers[record_type.fullname](record, ctx)
        except SchemaRegistryError as exc:
            raise _registry_error(exc, f"encoding {record_type.name}") from exc
        except SerializationError as exc:
            raise ContractError(f"encoding {record_type.name} failed: {exc}") from exc
        except Exception as exc:
            if _is_transport(exc):
                raise RegistryUnavailable(f"encoding {record_type.name}: schema registry "
                                          f"unreachable ({exc})") from exc  # fmt: skip
            raise
        if encoded is None:
            raise ContractError(f"encoding {record_type.name} gave no bytes")
        return encoded

    def decode(self, value: bytes | None, headers: Headers | None, topic: str = TOPIC) -> BaseModel:
        """Decode one Kafka value; DecodeError for a dead letter, RegistryUnavailable to retry."""
        type_name = _header(headers, RECORD_TYPE_HEADER)
        if type_name is None:
            raise DecodeError(f"no {RECORD_TYPE_HEADER} header", reason="missing-record-type")
        reader = self._readers.get(type_name)
        if reader is None:
            raise DecodeError(f"unknown record type {type_name!r}", reason="unknown-record-type")
        if value is None:
            raise DecodeError("empty value (tombstone)", reason="empty-value")
        try:
            return self._decode(type_name, reader, value)
        except DecodeError:
            raise
        except Exception as exc:
            raise _decode_failure(type_name, exc) from exc

    def _decode(self, type_name: str, reader: Any, value: bytes) -> BaseModel:
        """The Confluent wire format (magic byte 0, 4-byte schema id, Avro body) read with
        fastavro: the writer schema by id from the registry (cached by its client and
        here), resolved to today's schema. confluent-kafka's AvroDeserializer does the
        same but re-expands the reader schema for every message (a third of the sink's
        CPU in the benchmark)."""
        if len(value) < _FRAME or value[0] != 0:
            raise DecodeError(
                f"{type_name}: not in the registry's wire format (magic byte 0 + schema id)",
                reason="undecodable",
            )
        schema_id = int.from_bytes(value[1:_FRAME], "big")
        plan = self._plans.get((type_name, schema_id))
        if plan is None:
            writer_text = self._registry.get_schema(schema_id).schema_str or ""
            writer = parse_schema(json.loads(writer_text), named_schemas={})
            same = canonical_json(json.loads(writer_text)) == canonical_json(
                self._contract.by_name(type_name).schema
            )
            plan = (writer, None if same else reader)
            self._plans[(type_name, schema_id)] = plan
        data = schemaless_reader(io.BytesIO(value[_FRAME:]), plan[0], plan[1])
        return self._models[type_name].model_validate(data)


def _decode_failure(type_name: str, exc: Exception) -> ContractError:
    """Sort a deserializer failure: registry trouble (retry) or a dead letter (with why)."""
    if isinstance(exc, SchemaRegistryError):
        error = _registry_error(exc, f"decoding {type_name}")
        if isinstance(error, RegistryUnavailable):
            return error
        return DecodeError(str(error), reason="unknown-schema")
    if _is_transport(exc):
        return RegistryUnavailable(f"decoding {type_name}: schema registry unreachable ({exc})")
    if isinstance(exc, ValidationError):
        return DecodeError(f"{type_name} fails validation: {exc}", reason="invalid")
    if isinstance(exc, SchemaResolutionError):
        message = f"{type_name}: writer schema does not resolve to it: {str(exc)[:200]}"
        return DecodeError(message, reason="schema-mismatch")
    return DecodeError(f"{type_name} cannot be decoded: {exc!r}"[:400], reason="undecodable")


def _header(headers: Headers | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else value
    return None
