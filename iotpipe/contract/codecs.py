"""Render a specialised Avro encoder and decoder for one record schema (``iotpipe codegen``).

For each schema in ``schemas/`` codegen writes ``generated/codecs/<schema>.py``: straight-line
Python for that record's fields (zig-zag varints, strings, doubles, enums, unions, maps,
arrays, nested and recursive records, logical timestamps and UUIDs), with no schema walk
at run time. The output is byte for byte what fastavro writes for the same schema and
datum, and decoding gives what fastavro's ``schemaless_reader`` gives (property-tested in
``tests/unit/contract/test_codecs.py``); they replace fastavro and confluent-kafka's
AvroSerializer on the hot path, not the Confluent framing or the registry lookups.

The generated module exposes:

* ``write(buf, datum)``: append the Avro body of ``datum`` to the bytearray ``buf`` (the
  caller may have put the Confluent frame there first);
* ``encode(datum) -> bytes``;
* ``encode_framed(frame, datums) -> list[bytes | CodecError]``: each datum behind the
  frame, in one call (ingest's producer);
* ``decode(data, pos=0) -> dict``: read one record starting at ``pos`` (5 skips the
  frame); every byte after ``pos`` must belong to it;
* ``SCHEMA``: the canonical JSON text of the schema it was generated from, so a reader
  can tell whether a writer schema fetched from the registry is this one.

Datums are what fastavro takes: a record is a mapping (or any object whose ``__dict__``
holds its fields, such as a generated Pydantic model); a missing field takes its default;
``timestamp-*`` takes an aware ``datetime`` or an int; ``uuid`` a ``UUID`` or its text;
an enum its symbol (a ``StrEnum`` member too). A union picks its branch as fastavro does
(the first branch the value fits), so unions whose branches only a deep check could tell
apart (two records, a record and a map, two arrays...) are refused at generation time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from iotpipe.errors import ConfigError

__all__ = ["UnsupportedSchema", "layout", "render_codec_module"]

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_LOGICAL_LONG = {"timestamp-millis", "timestamp-micros", "local-timestamp-millis",
                 "local-timestamp-micros", "time-micros"}  # fmt: skip
_LOGICAL_INT = {"date", "time-millis"}


class UnsupportedSchema(ConfigError):
    """The schema uses something the codec generator does not render."""


@dataclass
class _Names:
    """Named types (record, enum, fixed) by full name, as the schema defines them."""

    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def define(self, schema: dict[str, Any], namespace: str) -> str:
        name = schema["name"]
        ns = schema.get("namespace", namespace)
        full = name if "." in name or not ns else f"{ns}.{name}"
        if full in self.types:
            raise UnsupportedSchema(f"the named type {full} is defined twice")
        self.types[full] = schema
        self.order.append(full)
        return full

    def resolve(self, name: str, namespace: str) -> str:
        for candidate in (name, f"{namespace}.{name}" if namespace else name):
            if candidate in self.types:
                return candidate
        raise UnsupportedSchema(f"unknown type {name!r}")


def _ident(full_name: str) -> str:
    return full_name.replace(".", "_")


def _namespace_of(full: str) -> str:
    return full.rpartition(".")[0]


@dataclass
class _Type:
    """A schema node, normalised: ``kind`` is the Avro type (a named type's kind for a
    reference), ``name`` the full name of a named type, ``logical`` its logical type."""

    kind: str
    schema: dict[str, Any]
    name: str = ""
    logical: str = ""
    branches: list[_Type] = field(default_factory=list)
    items: _Type | None = None


class _Renderer:
    def __init__(self, root: dict[str, Any]) -> None:
        self.names = _Names()
        self.root_name = ""
        self.records: dict[str, list[tuple[str, _Type, Any, bool]]] = {}
        self.enums: dict[str, list[str]] = {}
        self.fixed: dict[str, int] = {}
        self.constants: dict[str, str] = {}
        self._tmp = 0
        self.root = self.node(root, "")
        if self.root.kind != "record":
            raise UnsupportedSchema("the top-level schema must be a record")
        self.root_name = self.root.name

    # -- schema -> nodes ------------------------------------------------------------------
    def node(self, schema: Any, namespace: str) -> _Type:  # noqa: PLR0911 - per kind
        if isinstance(schema, list):
            branches = [self.node(b, namespace) for b in schema]
            _check_union(branches)
            return _Type("union", {}, branches=branches)
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return _Type(schema, {"type": schema})
            full = self.names.resolve(schema, namespace)
            return self._named(full)
        kind = schema.get("type")
        if isinstance(kind, dict | list):
            return self.node(kind, namespace)
        logical = schema.get("logicalType", "")
        if kind in PRIMITIVES:
            return _Type(kind, schema, logical=_logical(kind, logical))
        if kind in {"record", "error"}:
            full = self.names.define(schema, namespace)
            self.records[full] = []
            ns = _namespace_of(full)
            for f in schema["fields"]:
                has_default = "default" in f
                self.records[full].append(
                    (f["name"], self.node(f["type"], ns), f.get("default"), has_default)
                )
            return _Type("record", schema, name=full)
        if kind == "enum":
            full = self.names.define(schema, namespace)
            self.enums[full] = list(schema["symbols"])
            return _Type("enum", schema, name=full)
        if kind == "fixed":
            full = self.names.define(schema, namespace)
            self.fixed[full] = int(schema["size"])
            return _Type("fixed", schema, name=full, logical=schema.get("logicalType", ""))
        if kind == "array":
            return _Type("array", schema, items=self.node(schema["items"], namespace))
        if kind == "map":
            return _Type("map", schema, items=self.node(schema["values"], namespace))
        if isinstance(kind, str):  # a named type referenced as {"type": "Name"}
            return self._named(self.names.resolve(kind, namespace))
        raise UnsupportedSchema(f"unknown Avro type {kind!r}")

    def _named(self, full: str) -> _Type:
        schema = self.names.types[full]
        kind = schema["type"]
        if kind == "error":
            kind = "record"
        return _Type(kind, schema, name=full, logical=schema.get("logicalType", ""))

    def constant(self, expression: str) -> str:
        """A module-level name for a default that is not a plain literal (evaluated once,
        not for every record)."""
        if not expression.startswith("json_loads("):
            return expression
        name = self.constants.get(expression)
        if name is None:
            name = self.constants[expression] = f"_D{len(self.constants) + 1}"
        return name

    def tmp(self, stem: str = "v") -> str:
        self._tmp += 1
        return f"{stem}{self._tmp}"

    # -- writing --------------------------------------------------------------------------
    def write(self, t: _Type, v: str, where: str) -> Iterator[str]:
        """Statements appending the encoding of the value in variable ``v`` to ``buf``
        (``where`` names the field in error messages)."""
        writer = getattr(self, f"_write_{t.kind}", None)
        if writer is None:  # pragma: no cover - node() admits only the kinds below
            raise UnsupportedSchema(f"cannot write {t.kind}")
        yield from writer(t, v, where)

    def _write_null(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield from ()

    def _write_boolean(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield f"buf += b'\\x01' if {v} else b'\\x00'"

    def _write_int(self, t: _Type, v: str, where: str) -> Iterator[str]:
        if t.logical == "timestamp-millis":  # inline: the common case, ~3x a call
            yield f"if {v}.__class__ is datetime and {v}.tzinfo is not None:"
            yield f"    {v} = {v} - EPOCH"
            yield f"    {v} = ({v}.days * 86400 + {v}.seconds) * 1000 + {v}.microseconds // 1000"
            # A moment in datetime's range fits a long: the varint inline, no range check.
            yield f"    {v} = ({v} << 1) ^ ({v} >> 63)"
            yield f"    while {v} > 127:"
            yield f"        buf.append(({v} & 127) | 128)"
            yield f"        {v} >>= 7"
            yield f"    buf.append({v})"
            yield "else:"
            yield f"    if {v}.__class__ is not int: {v} = millis_of({v}, {where!r})"
            yield f"    if -64 <= {v} < 64: buf.append(({v} << 1) ^ ({v} >> 63))"
            yield f"    else: write_long(buf, {v}, {where!r})"
            return
        if t.logical:
            convert = _TO_NUMBER[t.logical]
            yield f"if {v}.__class__ is not int: {v} = {convert}({v}, {where!r})"
        yield f"if -64 <= {v} < 64: buf.append(({v} << 1) ^ ({v} >> 63))"
        yield f"else: write_long(buf, {v}, {where!r})"

    _write_long = _write_int

    def _write_float(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield f"buf += pack_float({v})"

    def _write_double(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield f"buf += pack_double({v})"

    def _write_string(self, t: _Type, v: str, where: str) -> Iterator[str]:
        if t.logical == "uuid":
            yield f"if {v}.__class__ is not str: {v} = uuid_text({v}, {where!r})"
        b = self.tmp("b")
        yield f"{b} = {v}.encode()"
        yield from self._length_prefixed(b)

    def _write_bytes(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield from self._length_prefixed(v)

    def _write_fixed(self, t: _Type, v: str, where: str) -> Iterator[str]:
        size = self.fixed[t.name]
        yield f"if len({v}) != {size}: raise bad_value({where!r}, 'fixed of {size} bytes', {v})"
        yield f"buf += {v}"

    def _write_enum(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield f"try: buf += _E_{_ident(t.name)}[{v}]"
        yield "except (KeyError, TypeError):"
        yield f"    raise bad_value({where!r}, 'a symbol of {t.name}', {v}) from None"

    def _write_array(self, t: _Type, v: str, where: str) -> Iterator[str]:
        assert t.items is not None  # noqa: S101 - set for arrays
        item, count = self.tmp("i"), self.tmp("n")
        yield f"{count} = len({v})"
        yield f"if {count}:"
        yield f"    if {count} < 64: buf.append({count} << 1)"
        yield f"    else: write_long(buf, {count}, {where!r})"
        yield f"    for {item} in {v}:"
        yield from ("        " + line for line in self.write(t.items, item, f"{where}[]"))
        yield "buf.append(0)"

    def _write_map(self, t: _Type, v: str, where: str) -> Iterator[str]:
        assert t.items is not None  # noqa: S101 - set for maps
        key, value, kb, count = self.tmp("k"), self.tmp("m"), self.tmp("b"), self.tmp("n")
        yield f"{count} = len({v})"
        yield f"if {count}:"
        yield f"    if {count} < 64: buf.append({count} << 1)"
        yield f"    else: write_long(buf, {count}, {where!r})"
        yield f"    for {key}, {value} in {v}.items():"
        yield f"        {kb} = {key}.encode()"
        yield from ("        " + line for line in self._length_prefixed(kb))
        yield from ("        " + line for line in self.write(t.items, value, f"{where}{{}}"))
        yield "buf.append(0)"

    def _write_record(self, t: _Type, v: str, where: str) -> Iterator[str]:
        yield f"_w_{_ident(t.name)}(buf, {v})"

    def _length_prefixed(self, b: str) -> Iterator[str]:
        n = self.tmp("n")
        yield f"{n} = len({b})"
        yield f"if {n} < 64: buf.append({n} << 1)"
        yield f"else: write_long(buf, {n}, '')"
        yield f"buf += {b}"

    def _write_union(self, t: _Type, v: str, where: str) -> Iterator[str]:
        """An if-chain in branch order: the first branch the value fits, as fastavro picks
        it (which, for a Python number fitting ``float``, is a later ``double``)."""
        for index, branch in enumerate(t.branches):
            chosen = index
            if branch.kind == "float":
                later = [i for i, b in enumerate(t.branches) if i > index and b.kind == "double"]
                chosen = later[0] if later else index
            yield f"{'if' if index == 0 else 'elif'} {_fits(branch, v, self.enums)}:"
            yield f"    buf += {bytes(_zigzag_varint(chosen))!r}"
            yield from ("    " + line for line in self.write(t.branches[chosen], v, where))
        yield "else:"
        yield f"    raise bad_value({where!r}, {_union_text(t)!r}, {v})"

    def write_record_function(self, full: str) -> Iterator[str]:
        yield f"def _w_{_ident(full)}(buf: bytearray, d: Any) -> None:"
        yield "    if d.__class__ is not dict:"
        yield "        d = fields_of(d)"
        for name, node, default, has_default in self.records[full]:
            v = self.tmp()
            where = name
            if has_default:
                yield f"    {v} = d.get({name!r}, {self.constant(_literal(default, node))})"
            elif node.kind == "null" or (
                node.kind == "union" and any(b.kind == "null" for b in node.branches)
            ):
                yield f"    {v} = d.get({name!r})"  # fastavro: a nullable field may be absent
            else:
                yield "    try:"
                yield f"        {v} = d[{name!r}]"
                yield "    except KeyError:"
                yield f"        raise missing_field({name!r}) from None"
            for line in self.write(node, v, where):
                yield "    " + line
        yield ""
        yield ""

    # -- reading --------------------------------------------------------------------------
    def read(self, t: _Type, target: str) -> Iterator[str]:
        """Statements reading one value at ``pos`` of ``b`` into variable ``target``."""
        reader = getattr(self, f"_read_{t.kind}", None)
        if reader is None:  # pragma: no cover - node() admits only the kinds below
            raise UnsupportedSchema(f"cannot read {t.kind}")
        yield from reader(t, target)

    def _read_null(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = None"

    def _read_boolean(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = b[pos] != 0"
        yield "pos += 1"

    def _read_int(self, t: _Type, target: str) -> Iterator[str]:
        yield from _read_long(target)
        if t.logical:
            yield f"{target} = read_{t.logical.replace('-', '_')}({target})"

    _read_long = _read_int

    def _read_float(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = unpack_float(b, pos)[0]"
        yield "pos += 4"

    def _read_double(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = unpack_double(b, pos)[0]"
        yield "pos += 8"

    def _read_string(self, t: _Type, target: str) -> Iterator[str]:
        n, end = self.tmp("n"), self.tmp("e")
        yield from _read_long(n)
        yield f"{end} = pos + {n}"
        yield f"if {n} < 0 or {end} > size: raise truncated(pos)"
        if t.kind == "bytes":
            yield f"{target} = b[pos:{end}]"
        elif t.logical == "uuid":
            yield f"{target} = read_uuid(b[pos:{end}].decode())"
        else:
            yield f"{target} = b[pos:{end}].decode()"
        yield f"pos = {end}"

    _read_bytes = _read_string

    def _read_fixed(self, t: _Type, target: str) -> Iterator[str]:
        size = self.fixed[t.name]
        yield f"if pos + {size} > size: raise truncated(pos)"
        yield f"{target} = b[pos:pos + {size}]"
        yield f"pos += {size}"

    def _read_enum(self, t: _Type, target: str) -> Iterator[str]:
        index = self.tmp("x")
        yield from _read_long(index)
        yield f"if {index} < 0: raise corrupt(pos, 'enum index')"
        yield f"{target} = _S_{_ident(t.name)}[{index}]"

    def _read_array(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = []"
        item = self.tmp("i")
        body = [*self.read(t.items or t, item), f"{target}.append({item})"]
        yield from self._read_blocks(body)

    def _read_map(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target} = {{}}"
        key, item = self.tmp("k"), self.tmp("i")
        key_node = _Type("string", {"type": "string"})
        body = [*self.read(key_node, key), *self.read(t.items or t, item),
                f"{target}[{key}] = {item}"]  # fmt: skip
        yield from self._read_blocks(body)

    def _read_blocks(self, body: list[str]) -> Iterator[str]:
        """Avro's blocks: a count (negative: followed by the block's size), items, 0."""
        count = self.tmp("c")
        yield "while True:"
        yield from ("    " + line for line in _read_long(count))
        yield f"    if {count} == 0: break"
        yield f"    if {count} < 0:"
        yield f"        {count} = -{count}"
        yield from ("        " + line for line in _read_long(self.tmp("skip")))
        yield f"    for _ in range({count}):"
        yield from ("        " + line for line in body)

    def _read_record(self, t: _Type, target: str) -> Iterator[str]:
        yield f"{target}, pos = _r_{_ident(t.name)}(b, pos, size)"

    def _read_union(self, t: _Type, target: str) -> Iterator[str]:
        index = self.tmp("x")
        yield from _read_long(index)
        for number, branch in enumerate(t.branches):
            yield f"{'if' if number == 0 else 'elif'} {index} == {number}:"
            yield from ("    " + line for line in self.read(branch, target))
        yield "else:"
        yield f"    raise corrupt(pos, 'union branch ' + str({index}))"

    def read_record_function(self, full: str) -> Iterator[str]:
        yield f"def _r_{_ident(full)}(b: bytes, pos: int, size: int) -> tuple[dict[str, Any], int]:"
        names = []
        for name, node, _default, _has in self.records[full]:
            v = self.tmp()
            names.append((name, v))
            for line in self.read(node, v):
                yield "    " + line
        yield "    return {" + ", ".join(f"{n!r}: {v}" for n, v in names) + "}, pos"
        yield ""
        yield ""


# Logical types written from a Python value other than an int: the runtime's converter.
_TO_NUMBER = {
    "timestamp-millis": "millis_of",
    "timestamp-micros": "micros_of",
    "local-timestamp-millis": "local_millis_of",
    "local-timestamp-micros": "local_micros_of",
    "date": "days_of",
    "time-millis": "time_millis_of",
    "time-micros": "time_micros_of",
}


def _read_long(target: str) -> Iterator[str]:
    """An inline zig-zag varint read at ``pos`` (the one-byte case without a call)."""
    yield "c = b[pos]"
    yield "if c < 128:"
    yield f"    {target} = (c >> 1) ^ -(c & 1)"
    yield "    pos += 1"
    yield "else:"
    yield f"    {target}, pos = read_varint(b, pos)"


def _logical(kind: str, logical: str) -> str:
    if not logical:
        return ""
    known = (
        (kind == "long" and logical in _LOGICAL_LONG)
        or (kind == "int" and logical in _LOGICAL_INT)
        or (kind == "string" and logical == "uuid")
    )
    # Avro: an unknown or misplaced logical type is ignored (the underlying type is used).
    return logical if known else ""


def _fits(t: _Type, v: str, enums: dict[str, list[str]]) -> str:  # noqa: PLR0911, PLR0912
    """The check fastavro's validation makes to pick this union branch, for the value
    shapes the generator admits (see ``_check_union``)."""
    k = t.kind
    if k == "null":
        return f"{v} is None"
    if k == "boolean":
        return f"{v}.__class__ is bool"
    if k in {"int", "long"}:
        lo, hi = (-(2**31), 2**31 - 1) if k == "int" else (-(2**63), 2**63 - 1)
        plain = f"(isinstance({v}, int) and {v}.__class__ is not bool and {lo} <= {v} <= {hi})"
        if t.logical in {"timestamp-millis", "timestamp-micros", "local-timestamp-millis",
                         "local-timestamp-micros"}:  # fmt: skip
            return f"({plain} or isinstance({v}, datetime))"
        if t.logical == "date":
            return f"({plain} or isinstance({v}, date))"
        if t.logical in {"time-millis", "time-micros"}:
            return f"({plain} or isinstance({v}, time))"
        return plain
    if k in {"float", "double"}:
        return f"(isinstance({v}, (int, float)) and {v}.__class__ is not bool)"
    if k == "string":
        if t.logical == "uuid":
            return f"isinstance({v}, (str, UUID))"
        return f"isinstance({v}, str)"
    if k == "bytes":
        return f"isinstance({v}, (bytes, bytearray))"
    if k == "fixed":
        return f"(isinstance({v}, bytes) and len({v}) == {t.schema['size']})"
    if k == "enum":
        return f"isinstance({v}, str) and {v} in _E_{_ident(t.name)}"
    if k == "array":
        return f"isinstance({v}, (list, tuple))"
    if k == "map":
        return f"isinstance({v}, Mapping)"
    if k == "record":  # cheap checks first: a model has a __dict__
        return f"({v}.__class__ is dict or hasattr({v}, '__dict__') or isinstance({v}, Mapping))"
    raise UnsupportedSchema(f"no union check for {k}")  # pragma: no cover


def _check_union(branches: list[_Type]) -> None:
    """Refuse unions whose branch fastavro would choose by validating deeply."""
    kinds = [b.kind for b in branches]
    if any(k == "union" for k in kinds):
        raise UnsupportedSchema("a union may not hold a union")
    shapes = {"record": "mapping", "map": "mapping", "array": "sequence", "fixed": "bytes",
              "bytes": "bytes"}  # fmt: skip
    seen: dict[str, str] = {}
    for b in branches:
        shape = shapes.get(b.kind)
        if shape is None:
            continue
        if shape in seen:
            raise UnsupportedSchema(
                f"a union of {seen[shape]} and {b.kind} needs a deep check to pick the branch; "
                "the codec generator does not render it"
            )
        seen[shape] = b.kind
    primitives = [k for k in kinds if k in PRIMITIVES]
    if len(primitives) != len(set(primitives)):
        raise UnsupportedSchema(f"a union names the same type twice: {kinds}")


def _union_text(t: _Type) -> str:
    return "one of " + ", ".join(b.name or b.kind for b in t.branches)


def _literal(default: Any, node: _Type) -> str:
    """A field default as a Python expression, in the datum's form (what fastavro writes
    for a missing field: the default as the schema gives it)."""
    if default is None:
        return "None"
    if isinstance(default, dict | list):
        return f"json_loads({json.dumps(json.dumps(default, sort_keys=False))})"
    if node.kind in {"bytes", "fixed"} or (
        node.kind == "union" and node.branches and node.branches[0].kind in {"bytes", "fixed"}
    ):
        return repr(str(default).encode("latin-1"))
    return repr(default)


_PRELUDE = """
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from iotpipe.contract.avro_runtime import (  # noqa: F401 - what rendered code may call
    EPOCH,
    CodecError,
    StructError,
    bad_value,
    corrupt,
    days_of,
    fields_of,
    json_loads,
    local_micros_of,
    local_millis_of,
    micros_of,
    millis_of,
    missing_field,
    pack_double,
    pack_float,
    read_date,
    read_local_timestamp_micros,
    read_local_timestamp_millis,
    read_time_micros,
    read_time_millis,
    read_timestamp_micros,
    read_timestamp_millis,
    read_uuid,
    read_varint,
    time_micros_of,
    time_millis_of,
    truncated,
    unpack_double,
    unpack_float,
    uuid_text,
    write_long,
)
"""

_TRAILER = '''
def write(buf: bytearray, datum: Any) -> None:
    """Append the Avro binary encoding of ``datum`` (a {name}) to ``buf``; CodecError
    (nothing appended) if it does not fit the schema."""
    start = len(buf)
    try:
        _w_{ident}(buf, datum)
    except CodecError:
        del buf[start:]
        raise
    except (TypeError, AttributeError, ValueError, OverflowError, StructError) as exc:
        del buf[start:]
        raise CodecError(f"{name} does not fit its schema: {{exc}}") from None


def encode(datum: Any) -> bytes:
    """The Avro binary encoding of ``datum`` (a {name}), without any framing."""
    buf = bytearray()
    write(buf, datum)
    return bytes(buf)


def encode_framed(frame: bytes, datums: Sequence[Any]) -> list[bytes | CodecError]:
    """Each datum's encoding behind ``frame`` (the Confluent magic byte and schema id),
    or the CodecError saying why it does not fit: one call for a request's records."""
    out: list[bytes | CodecError] = []
    append = out.append
    for datum in datums:
        buf = bytearray(frame)
        try:
            _w_{ident}(buf, datum)
        except CodecError as exc:
            append(exc)
            continue
        except (TypeError, AttributeError, ValueError, OverflowError, StructError) as exc:
            append(CodecError(f"{name} does not fit its schema: {{exc}}"))
            continue
        append(bytes(buf))
    return out


def decode(data: bytes, pos: int = 0) -> dict[str, Any]:
    """The {name} encoded in ``data`` from ``pos`` on (5: after a Confluent frame), in
    fastavro's form; CodecError if the bytes are not exactly one such record."""
    size = len(data)
    try:
        record, end = _r_{ident}(data, pos, size)
    except (IndexError, UnicodeDecodeError, OverflowError) as exc:
        raise CodecError(f"truncated or corrupt record ({{exc}})") from None
    except Exception as exc:  # struct.error, a bad UUID text, a date out of range
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"corrupt record: {{exc}}") from None
    if end != size:
        raise CodecError(f"{{size - end}} bytes left after the record: not this schema")
    return record
'''


def render_codec_module(schema: dict[str, Any], header: str, schema_text: str) -> str:
    """The source of ``generated/codecs/<schema>.py`` for one record schema."""
    renderer = _Renderer(schema)
    fullname = renderer.root_name
    lines = [header, f'"""Avro encoder and decoder for {fullname}, generated from its schema."""']
    lines.append(_PRELUDE.rstrip())
    lines += ["", "", f"FULLNAME = {fullname!r}", f"SCHEMA = {schema_text!r}", ""]
    for full, symbols in renderer.enums.items():
        table = {s: bytes(_zigzag_varint(i)) for i, s in enumerate(symbols)}
        lines.append(f"_E_{_ident(full)} = {table!r}")
        lines.append(f"_S_{_ident(full)} = {tuple(symbols)!r}")
    functions: list[str] = []
    for full in renderer.records:
        functions += renderer.write_record_function(full)
        functions += renderer.read_record_function(full)
    # Defaults that are containers: built once (the writer only reads them).
    lines += [f"{name} = {expression}" for expression, name in renderer.constants.items()]
    lines += ["", ""]
    lines += functions
    ident = _ident(fullname)
    lines.append(_TRAILER.format(name=fullname.rpartition(".")[2], ident=ident).strip())
    return "\n".join(lines) + "\n"


def _zigzag_varint(n: int) -> bytearray:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return out


_LOGICAL_ATTRIBUTES = ("logicalType", "precision", "scale")


def layout(schema: Any) -> str:
    """What of a schema decides how a record is written and what decoding gives back:
    types, names, field order, symbols, sizes and logical types; not docs, defaults,
    aliases or extra attributes. Two schemas with the same layout read the same bytes
    into the same values, so a writer schema fetched from a registry (which may rewrite
    it: Apicurio drops ``"default": null``) is read by the codec generated from a schema
    of the same layout. Named types are written out once, then named (as in Avro's
    Parsing Canonical Form, which however drops logical types)."""
    return json.dumps(_layout(schema, "", set()), separators=(",", ":"), sort_keys=True)


def _layout(schema: Any, namespace: str, seen: set[str]) -> Any:  # noqa: PLR0911 - per kind
    if isinstance(schema, list):
        return [_layout(branch, namespace, seen) for branch in schema]
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        return schema if "." in schema or not namespace else f"{namespace}.{schema}"
    kind = schema["type"]
    if isinstance(kind, dict | list):
        return _layout(kind, namespace, seen)
    logical = {k: schema[k] for k in _LOGICAL_ATTRIBUTES if k in schema}
    if kind in PRIMITIVES:
        return {"type": kind, **logical} if logical else kind
    if kind in {"array", "map"}:
        inner = schema["items" if kind == "array" else "values"]
        return {"type": kind, "items" if kind == "array" else "values":
                _layout(inner, namespace, seen)}  # fmt: skip
    name = schema["name"]
    ns = schema.get("namespace", namespace)
    full = name if "." in name or not ns else f"{ns}.{name}"
    if full in seen:
        return full
    seen.add(full)
    if kind in {"record", "error"}:
        inner_ns = full.rpartition(".")[0]
        fields = [{"name": f["name"], "type": _layout(f["type"], inner_ns, seen)}
                  for f in schema["fields"]]  # fmt: skip
        return {"type": "record", "name": full, "fields": fields}
    if kind == "enum":
        return {"type": "enum", "name": full, "symbols": list(schema["symbols"])}
    if kind == "fixed":
        return {"type": "fixed", "name": full, "size": schema["size"], **logical}
    return {"type": kind, "name": full}  # a reference written as {"type": "Name"}
