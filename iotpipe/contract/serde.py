"""Avro encoding and decoding for every record type, in the Confluent wire format.

Encoding uses the generated codec of the record type (``generated/codecs/``, byte for
byte what fastavro and confluent-kafka's AvroSerializer write, several times faster) behind
the Confluent frame: magic byte 0 and the schema id, which is looked up (or registered,
with ``auto_register``) through the registry once per subject and cached. Subjects follow
TopicRecordNameStrategy (``<topic>-<namespace.Name>``).

Decoding reads the same frame; the writer schema is fetched by id through the registry
(cached). When it is the very schema a codec was generated from, the generated decoder
reads the body; otherwise fastavro reads it with Avro schema resolution (writer schema
from the registry, reader = today's schema), so a record written by an older or newer
producer still decodes into today's model. Either way the result is validated by the
generated Pydantic model (the contract's rules). A newer writer's fields that today's
schema lacks are not dropped: they are read with the writer schema alone and carried,
as written, in a subclass of today's model (``iotpipe.contract.extras``), so a sink not
yet upgraded stores them as an upgraded one does. An older writer's record lacks today's
newer fields: resolution gives them their defaults.

Records of several types share a topic; the type to decode a record as is the writer
schema's full name (the schema the frame's id names), so a producer that follows the
Confluent wire format alone is read like ours. Our producers also set the
``iotpipe-record-type`` header; it is optional, and when present it must agree with the
writer schema (a record whose header names another type is a dead letter).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, cast

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from pydantic import BaseModel, ValidationError

from iotpipe.contract.avro_runtime import CodecError
from iotpipe.contract.catalog import (
    RECORD_TYPE_HEADER,
    TOPIC,
    Codec,
    Contract,
    RecordType,
)
from iotpipe.contract.codecs import layout
from iotpipe.contract.extras import carrying, unknown_fields
from iotpipe.errors import ContractError, DecodeError, RegistryUnavailable

__all__ = ["ContractSerde", "Headers"]

Headers = Sequence[tuple[str, bytes | str | None]]


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
        self._registry = registry
        self._auto_register = auto_register
        self._codecs: dict[str, Codec] = {t.fullname: _codec(t) for t in contract.record_types}
        self._layouts = {name: layout(json.loads(c.SCHEMA)) for name, c in self._codecs.items()}
        # Encoding: the frame (magic byte + schema id) per subject, once looked up.
        self._frames: dict[str, bytes] = {}
        self._frames_lock = threading.Lock()
        # Decoding: the reader schema per record type; the record type a name (full name
        # or alias) stands for; and per writer schema id, its record type and how to read
        # the body: the generated decoder, or fastavro (writer, reader).
        self._readers: dict[str, Any] = {}
        self._reader_schemas: dict[str, dict[str, Any]] = {}
        self._names: dict[str, str] = {}
        self._plans: dict[int, _Plan] = {}
        # Per model class: its record type and the header naming it (looked up once per
        # class, not for every record).
        self._by_class: dict[type[BaseModel], tuple[RecordType, bytes]] = {}
        for record_type in contract.record_types:
            schema = json.loads(record_type.schema_str)
            self._readers[record_type.fullname] = parse_schema(schema, named_schemas={})
            self._reader_schemas[record_type.fullname] = schema
            self._names[record_type.fullname] = record_type.fullname
            for alias in schema.get("aliases", ()):
                self._names.setdefault(
                    _fullname(alias, schema.get("namespace")), record_type.fullname
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

    def codec(self, record_type: RecordType) -> Codec:
        return self._codecs[record_type.fullname]

    def cached_frame(self, record_type: RecordType, topic: str = TOPIC) -> bytes | None:
        """The frame for ``record_type`` on ``topic`` if it is known already (no registry
        call): what a caller on an event loop checks before encoding there."""
        return self._frames.get(f"{topic}-{record_type.fullname}")

    def frame(self, record_type: RecordType, topic: str = TOPIC) -> bytes:
        """Magic byte 0 and the schema id of ``record_type`` under its subject on ``topic``:
        looked up in the registry (registered with ``auto_register``) once, then cached."""
        subject = f"{topic}-{record_type.fullname}"
        found = self._frames.get(subject)
        if found is not None:
            return found
        with self._frames_lock:
            found = self._frames.get(subject)
            if found is None:
                schema_id = self._schema_id(subject, record_type)
                found = self._frames[subject] = b"\x00" + schema_id.to_bytes(4, "big")
        return found

    def _schema_id(self, subject: str, record_type: RecordType) -> int:
        schema = Schema(record_type.schema_str, "AVRO")
        what = f"encoding {record_type.name}"
        try:
            if self._auto_register:
                return int(self._registry.register_schema(subject, schema))
            found = self._registry.lookup_schema(subject, schema).schema_id
            if found is None:
                raise ContractError(f"{what}: the registry gave no id for {subject}")
            return int(found)
        except SchemaRegistryError as exc:
            raise _registry_error(exc, what) from exc
        except Exception as exc:
            if _is_transport(exc):
                raise RegistryUnavailable(f"{what}: schema registry unreachable ({exc})") from exc
            raise

    def encode(self, record: BaseModel, topic: str = TOPIC) -> bytes:
        """The record in the Confluent wire format: frame, then the Avro body written by the
        record type's generated codec."""
        record_type = self.record_type(record)
        buf = bytearray(self.frame(record_type, topic))
        try:
            self._codecs[record_type.fullname].write(buf, record)
        except CodecError as exc:  # not what the schema describes
            raise ContractError(f"encoding {record_type.name} failed: {exc}") from exc
        return bytes(buf)

    def decode(self, value: bytes | None, headers: Headers | None, topic: str = TOPIC) -> BaseModel:
        """Decode one Kafka value; DecodeError for a dead letter, RegistryUnavailable to retry.

        The record type is the writer schema's (named by the frame's schema id); the
        ``iotpipe-record-type`` header, when present, must name the same type."""
        if value is None:
            raise DecodeError("empty value (tombstone)", reason="empty-value")
        if len(value) < _FRAME or value[0] != 0:
            raise DecodeError(
                "not in the registry's wire format (magic byte 0 + 4-byte schema id)",
                reason="undecodable",
            )
        schema_id = int.from_bytes(value[1:_FRAME], "big")
        plan = self._plans.get(schema_id)
        if plan is None:
            plan = self._plan_for(schema_id)
        type_name = plan.type_name
        if headers:
            named = _header(headers, RECORD_TYPE_HEADER)
            if named is not None and self._names.get(named, named) != type_name:
                raise DecodeError(
                    f"the {RECORD_TYPE_HEADER} header names {named!r}, but the writer schema "
                    f"(id {schema_id}) is {type_name}",
                    reason="record-type-mismatch",
                )
        try:
            body: Any
            if plan.codec is not None:
                body = plan.codec.decode(value, _FRAME)
            else:
                body = schemaless_reader(io.BytesIO(value[_FRAME:]), plan.writer, plan.reader)
                if plan.unknown:  # a newer writer's fields: read as written, and kept
                    written = cast(
                        dict[str, Any],
                        schemaless_reader(io.BytesIO(value[_FRAME:]), plan.writer, None),
                    )
                    body.update({name: written[name] for name in plan.unknown})
            return plan.model.model_validate(body)
        except Exception as exc:
            raise _decode_failure(type_name, exc) from exc

    def decode_plan(self, value: bytes) -> tuple[str, str]:
        """How a value would be read: its record type, and ``generated`` (its writer schema
        is the one the codec was generated from) or ``resolved`` (fastavro, writer schema
        -> today's schema, plus the writer's fields today's schema lacks)."""
        plan = self._plan_for(int.from_bytes(value[1:_FRAME], "big"))
        return plan.type_name, "generated" if plan.codec is not None else "resolved"

    def _plan_for(self, schema_id: int) -> _Plan:
        """The writer schema with this id, from the registry (cached): which record type
        it is, and how to read its bodies. Its layout is the one the codec was generated
        from: the codec reads it (the registry may have rewritten the text: Apicurio drops
        ``"default": null``); otherwise fastavro resolves it to today's schema, and the
        writer's fields that today's schema lacks are read as written and carried by a
        subclass of today's model that declares them."""
        what = f"decoding schema id {schema_id}"
        try:
            writer_text = self._registry.get_schema(schema_id).schema_str or ""
        except Exception as exc:
            raise _decode_failure(what, exc) from exc
        try:
            writer = json.loads(writer_text)
            name = _fullname(writer["name"], writer.get("namespace"))
        except (ValueError, TypeError, KeyError) as exc:
            message = f"{what}: the writer schema is not an Avro record ({exc!r})"[:400]
            raise DecodeError(message, reason="unknown-record-type") from exc
        type_name = self._names.get(name)
        if type_name is None:
            known = ", ".join(sorted(self._models))
            raise DecodeError(
                f"{what}: the writer schema is {name}, not a record type of the contract ({known})",
                reason="unknown-record-type",
            )
        model = self._models[type_name]
        if layout(writer) == self._layouts[type_name]:
            plan = _Plan(type_name, model, codec=self._codecs[type_name])
        else:
            try:
                parsed = parse_schema(writer, named_schemas={})
            except Exception as exc:
                raise _decode_failure(type_name, exc) from exc
            unknown = unknown_fields(writer, self._reader_schemas[type_name])
            plan = _Plan(
                type_name,
                carrying(model, unknown),
                writer=parsed,
                reader=self._readers[type_name],
                unknown=unknown,
            )
        self._plans[schema_id] = plan
        return plan


def _fullname(name: str, namespace: str | None) -> str:
    """An Avro name made full: a dotted name is already; else prefixed by the namespace."""
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _codec(record_type: RecordType) -> Codec:
    """The generated codec of the record type, if it was generated from this very schema;
    else (a contract being evolved, in tests and tools) fastavro on the schema."""
    codec = record_type.codec()
    if record_type.schema_str == codec.SCHEMA:
        return codec
    return _FastavroCodec(record_type)


class _FastavroCodec:
    """fastavro behind the generated codecs' interface, for a schema none was generated from."""

    def __init__(self, record_type: RecordType) -> None:
        self.FULLNAME = record_type.fullname
        self.SCHEMA = record_type.schema_str
        self._parsed = parse_schema(json.loads(record_type.schema_str), named_schemas={})

    def write(self, buf: bytearray, datum: Any) -> None:
        out = io.BytesIO()
        try:
            schemaless_writer(out, self._parsed, _as_datum(datum))
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise CodecError(f"{self.FULLNAME} does not fit its schema: {exc}") from exc
        buf += out.getvalue()

    def encode(self, datum: Any) -> bytes:
        buf = bytearray()
        self.write(buf, datum)
        return bytes(buf)

    def encode_framed(self, frame: bytes, datums: Sequence[Any]) -> list[bytes | Exception]:
        out: list[bytes | Exception] = []
        for datum in datums:
            try:
                out.append(frame + self.encode(datum))
            except CodecError as exc:
                out.append(exc)
        return out

    def decode(self, data: bytes, pos: int = 0) -> dict[str, Any]:
        stream = io.BytesIO(data)
        stream.seek(pos)
        try:
            record = schemaless_reader(stream, self._parsed, None)
        except (EOFError, ValueError, IndexError, OverflowError) as exc:
            raise CodecError(f"truncated or corrupt record ({exc!r})") from exc
        if stream.tell() != len(data):
            raise CodecError(f"{len(data) - stream.tell()} bytes left after the record")
        return cast(dict[str, Any], record)


def _as_datum(value: Any) -> Any:
    """A model as fastavro takes it: its fields, nested models as dicts."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


class _Plan:
    """Bodies written with one schema id: their record type, how to read them (a
    generated codec, or fastavro from the writer schema to the reader's), the writer's
    fields the reader lacks (read with the writer schema alone) and the model to
    validate into (today's, or its subclass carrying those fields)."""

    __slots__ = ("codec", "model", "reader", "type_name", "unknown", "writer")

    def __init__(
        self,
        type_name: str,
        model: type[BaseModel],
        *,
        codec: Codec | None = None,
        writer: Any = None,
        reader: Any = None,
        unknown: tuple[str, ...] = (),
    ) -> None:
        self.type_name = type_name
        self.model = model
        self.codec = codec
        self.writer = writer
        self.reader = reader
        self.unknown = unknown


def _decode_failure(type_name: str, exc: Exception) -> ContractError:  # noqa: PLR0911 - per cause
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
    if isinstance(exc, CodecError):
        return DecodeError(f"{type_name} cannot be decoded: {exc}"[:400], reason="undecodable")
    if isinstance(exc, SchemaResolutionError):
        message = f"{type_name}: writer schema does not resolve to it: {str(exc)[:200]}"
        return DecodeError(message, reason="schema-mismatch")
    return DecodeError(f"{type_name} cannot be decoded: {exc!r}"[:400], reason="undecodable")


def _header(headers: Headers | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else value
    return None
