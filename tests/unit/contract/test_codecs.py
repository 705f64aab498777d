"""The generated Avro codecs against fastavro, the reference: the same bytes for the same
datum, the same values from the same bytes, for every schema in ``schemas/`` and for a
schema holding every construct the generator renders (hypothesis draws the datums,
edge values included: the int/long bounds, NaN and infinities, empty and any Unicode
strings, every union branch and enum symbol, absent fields with defaults)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iotpipe.contract.avro_runtime import CodecError
from iotpipe.contract.catalog import Contract, RecordType, canonical_json
from iotpipe.contract.codecs import UnsupportedSchema, layout, render_codec_module
from iotpipe.contract.codegen import codec_header
from iotpipe.paths import REPO_DIR
from tests.avro_strategies import from_avro

pytestmark = [pytest.mark.unit, pytest.mark.timeout(300)]

EVERYTHING = json.loads((REPO_DIR / "tests/fixtures/avro/everything.avsc").read_text())
CONTRACT = Contract.load()
EXAMPLES = 300


def load_codec(schema: dict[str, Any], folder: Path, name: str) -> ModuleType:
    """Render a codec for ``schema`` and import it (as codegen would write it)."""
    path = folder / f"{name}.py"
    path.write_text(render_codec_module(schema, "# test", canonical_json(schema)))
    spec = importlib.util.spec_from_file_location(f"test_codec_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_codec(EVERYTHING, tmp_path_factory.mktemp("codecs"), "everything")


def reference_bytes(parsed: Any, datum: Any) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parsed, datum)
    return out.getvalue()


def reference_value(parsed: Any, data: bytes) -> Any:
    return schemaless_reader(io.BytesIO(data), parsed, None)


def same(a: Any, b: Any) -> bool:
    """Equality that counts NaN equal to NaN (and keeps types: 1 is not True)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def check_both_directions(codec: Any, parsed: Any, datum: Any) -> None:
    expected = reference_bytes(parsed, datum)
    assert codec.encode(datum) == expected
    try:
        value = reference_value(parsed, expected)
    except (OverflowError, ValueError):  # e.g. epoch millis beyond datetime's years 1-9999
        with pytest.raises(CodecError):
            codec.decode(expected)
        return
    assert same(codec.decode(expected), value)


def property_settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.mark.parametrize("record_type", CONTRACT.record_types, ids=lambda t: t.name)
def test_contract_codecs_match_fastavro_on_edge_values(record_type: RecordType) -> None:
    codec, parsed = record_type.codec(), parse_schema(json.loads(record_type.schema_str))

    @property_settings()
    @given(datum=from_avro(record_type.schema, edges=True))
    def both_directions(datum: dict[str, Any]) -> None:
        check_both_directions(codec, parsed, datum)

    both_directions()


@pytest.mark.parametrize("record_type", CONTRACT.record_types, ids=lambda t: t.name)
def test_contract_codecs_encode_models_as_fastavro_encodes_their_dump(
    record_type: RecordType,
) -> None:
    """What ingest hands the encoder: a generated model (UUID, datetimes, StrEnum members,
    nested models), within the contract's rules."""
    codec, parsed, model = (
        record_type.codec(),
        parse_schema(record_type.schema),
        record_type.model(),
    )

    @property_settings()
    @given(data=from_avro(record_type.schema))
    def encodes_the_model(data: dict[str, Any]) -> None:
        record = model.model_validate(data)
        assert codec.encode(record) == reference_bytes(parsed, record.model_dump())
        assert model.model_validate(codec.decode(codec.encode(record))) == record

    encodes_the_model()


def test_the_codec_remembers_its_schema() -> None:
    for record_type in CONTRACT.record_types:
        codec = record_type.codec()
        assert record_type.schema_str == codec.SCHEMA
        assert record_type.fullname == codec.FULLNAME


def test_every_construct_matches_fastavro(everything: ModuleType) -> None:
    parsed = parse_schema(EVERYTHING)

    @property_settings()
    @given(datum=from_avro(EVERYTHING, edges=True))
    @example(datum=_minimal() | {"anything": 1.5, "when": "soon", "chain": _chain(3)})
    @example(datum=_minimal() | {"anything": 2**40, "big": -(2**63), "small": 2**31 - 1})
    @example(datum=_minimal() | {"anything": "GREEN", "text": "", "real": float("nan")})
    @example(datum=_minimal() | {"anything": "plain", "single": float("-inf"), "tags": ["é"]})
    def both_directions(datum: dict[str, Any]) -> None:
        check_both_directions(everything, parsed, datum)

    both_directions()


def _minimal() -> dict[str, Any]:
    return {
        "flag": True, "small": 0, "big": 0, "single": 0.0, "real": 0.0, "blob": b"",
        "text": "t", "id": UUID(int=1), "at_ms": datetime(2026, 1, 1, tzinfo=UTC),
        "at_us": 5, "digest": b"abcd", "colour": "BLUE", "other_colour": "GREEN",
        "points": [{"x": 1.0}], "day": 20000, "clock_ms": 1000, "clock_us": time(1, 2, 3, 4),
        "local_ms": datetime(2026, 1, 1, 12),
    }  # fmt: skip


def _chain(length: int) -> dict[str, Any] | None:
    node: dict[str, Any] | None = None
    for value in range(length):
        node = {"value": value, "next": node}
    return node


def test_objects_encode_like_mappings(everything: ModuleType) -> None:
    """A record may be any object whose ``__dict__`` holds its fields (a model)."""

    class Point:
        def __init__(self, x: float) -> None:
            self.x, self.y, self.label = x, 2.0, "p"

    datum = _minimal() | {"points": [Point(1.0)], "origin": Point(3.0)}
    as_dicts = _minimal() | {
        "points": [{"x": 1.0, "y": 2.0, "label": "p"}],
        "origin": {"x": 3.0, "y": 2.0, "label": "p"},
    }
    assert everything.encode(datum) == reference_bytes(parse_schema(EVERYTHING), as_dicts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "PURPLE"}, "colour: expected a symbol of test.codecs.Colour"),
        ({"small": "1"}, "does not fit its schema"),
        ({"big": 2**63}, "does not fit a 64-bit long"),
        ({"at_ms": datetime(2026, 1, 1)}, "at_ms: expected an aware datetime"),  # naive
        ({"digest": b"abc"}, "digest: expected fixed of 4 bytes"),
        ({"anything": object()}, "anything: expected one of null, boolean"),
        ({"text": "\ud800"}, "does not fit its schema"),  # a lone surrogate has no UTF-8
        ({"points": None}, "does not fit its schema"),
    ],
)
def test_a_datum_that_does_not_fit_is_a_codec_error(
    everything: ModuleType, change: dict[str, Any], message: str
) -> None:
    buf = bytearray(b"frame")
    with pytest.raises(CodecError, match=message):
        everything.write(buf, _minimal() | change)
    assert buf == b"frame"  # nothing half-written


def test_a_missing_required_field_is_named(everything: ModuleType) -> None:
    datum = _minimal()
    del datum["digest"]
    with pytest.raises(CodecError, match="digest: required field is missing"):
        everything.encode(datum)


def test_bytes_that_are_not_one_record_are_a_codec_error(everything: ModuleType) -> None:
    good = everything.encode(_minimal())
    assert same(everything.decode(b"\x00\x00\x00\x00\x07" + good, 5),
                reference_value(parse_schema(EVERYTHING), good))  # fmt: skip
    for bad, why in [
        (good[:-1], "truncated or corrupt"),
        (good[: len(good) // 2], "truncated or corrupt"),
        (good + b"\x00", "1 bytes left after the record"),
        (b"", "truncated or corrupt"),
        (b"\xff" * 12, "corrupt"),
    ]:
        with pytest.raises(CodecError, match=why):
            everything.decode(bad)


@given(data=st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_any_bytes_decode_or_raise_a_codec_error(data: bytes) -> None:
    """Garbage never escapes as another exception (the sink dead-letters a CodecError)."""
    codec = CONTRACT.by_name("SensorReading").codec()
    with contextlib.suppress(CodecError):
        codec.decode(data)


@pytest.mark.parametrize(
    "union",
    [
        [{"type": "record", "name": "A", "fields": []}, {"type": "map", "values": "int"}],
        [{"type": "array", "items": "int"}, {"type": "array", "items": "string"}],
        ["null", "string", "string"],
        ["null", ["null", "int"]],
    ],
)
def test_unions_only_a_deep_check_could_resolve_are_refused(union: list[Any]) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "u", "type": union}]}
    with pytest.raises(UnsupportedSchema):
        render_codec_module(schema, "# test", canonical_json(schema))


def test_the_generated_contract_codecs_are_what_the_generator_renders() -> None:
    """The committed modules are the generator's output (``codegen --check`` is the full
    drift check; this one fails fast in the unit suite)."""
    for record_type in CONTRACT.record_types:
        path = Path(str(sys.modules[record_type.codec_module].__file__))
        header = codec_header(f"schemas/{record_type.schema_file.name}")
        assert path.read_text() == render_codec_module(
            record_type.schema, header, record_type.schema_str
        )


def test_container_defaults_are_built_once_not_per_record() -> None:
    """A default such as ``{}`` is a module-level constant: building it in the record
    function ran json.loads for every record."""
    for record_type in CONTRACT.record_types:
        source = Path(str(sys.modules[record_type.codec_module].__file__)).read_text()
        for line in source.splitlines():
            if "json_loads(" in line:
                assert line.startswith("_D"), line


def test_encode_framed_puts_each_datum_behind_the_frame(everything: ModuleType) -> None:
    good, bad = _minimal(), _minimal() | {"colour": "PURPLE"}
    frame = b"\x00\x00\x00\x00\x2a"
    first, second, third = everything.encode_framed(frame, [good, bad, good])
    assert first == third == frame + everything.encode(good)
    assert isinstance(second, CodecError)
    assert "colour: expected a symbol" in str(second)


def test_layout_keeps_what_decides_the_bytes_and_drops_the_rest() -> None:
    schema = json.loads(CONTRACT.by_name("SensorReading").schema_str)
    base = layout(schema)
    # What Apicurio stores: the same schema without ``"default": null``.
    rewritten = json.loads(json.dumps(schema))
    for field in rewritten["fields"]:
        if field.get("default", 0) is None:
            del field["default"]
        field.pop("doc", None)
        field.pop("rules", None)
    assert layout(rewritten) == base
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda s: s["fields"].reverse(),  # field order
        lambda s: s["fields"][4].update(type="float"),  # value: double -> float
        lambda s: s["fields"][6].update(type="long"),  # event_time loses timestamp-millis
        lambda s: s["fields"][3]["type"]["symbols"].append("NEW"),  # an enum symbol
        lambda s: s["fields"].pop(),  # a field less
    ]
    for change in changes:
        changed = json.loads(json.dumps(schema))
        change(changed)
        assert layout(changed) != base
    # A named type written out once, then referred to by name, either way round.
    assert layout(EVERYTHING) == layout(json.loads(json.dumps(EVERYTHING)))
