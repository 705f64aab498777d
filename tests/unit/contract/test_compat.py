"""Avro schema resolution, both ways, by field: what `iotpipe schemas check` says."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from iotpipe.contract.catalog import Contract
from iotpipe.contract.compat import directions, incompatibilities, is_transitive
from iotpipe.contract.registry import CheckResult, Refusal, field_at

READING: dict[str, Any] = json.loads(Contract.load().by_name("SensorReading").schema_str)
Change = Callable[[dict[str, Any]], None]


def changed(change: Change) -> dict[str, Any]:
    schema = copy.deepcopy(READING)
    change(schema)
    return schema


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def found(change: Change, level: str = "FULL_TRANSITIVE") -> list[tuple[str, str, str]]:
    return [
        (i.field, i.rule, i.message) for i in incompatibilities(READING, changed(change), level)
    ]


def test_a_field_added_without_a_default() -> None:
    assert found(lambda s: s["fields"].append({"name": "battery", "type": "double"})) == [
        (
            "battery",
            "added-without-default",
            "field 'battery' added without a default: old records cannot be read by the new schema",
        )
    ]


def test_a_field_renamed_without_an_alias_breaks_both_ways() -> None:
    def rename(schema: dict[str, Any]) -> None:
        field(schema, "unit")["name"] = "unit_symbol"

    assert found(rename) == [
        (
            "unit",
            "renamed-without-alias",
            "field 'unit' renamed to 'unit_symbol' without an alias: old records cannot be "
            "read by the new schema",
        ),
        (
            "unit",
            "removed-without-default",
            "field 'unit' renamed to 'unit_symbol', and the old schema gives it no default: "
            "new records cannot be read by the old schema",
        ),
    ]


def test_an_alias_mends_a_rename_for_new_readers_only() -> None:
    def rename(schema: dict[str, Any]) -> None:
        field(schema, "unit").update(name="unit_symbol", aliases=["unit"])

    assert [(f, rule) for f, rule, _ in found(rename)] == [("unit", "removed-without-default")]
    assert found(rename, "BACKWARD") == []  # the new schema reads old records by the alias


def test_a_field_with_a_default_may_be_renamed_with_an_alias() -> None:
    def rename(schema: dict[str, Any]) -> None:
        field(schema, "quality").update(name="grade", aliases=["quality"])

    assert found(rename) == []


def test_a_narrowed_enum_without_a_default() -> None:
    def narrow(schema: dict[str, Any]) -> None:
        kind = field(schema, "sensor_kind")["type"]
        kind["symbols"].remove("VOC")
        del kind["default"]

    assert found(narrow) == [
        (
            "sensor_kind",
            "enum-symbol-removed",
            "enum SensorKind of field 'sensor_kind' lost symbol VOC and has no default: old "
            "records cannot be read by the new schema",
        )
    ]


def test_an_enum_default_absorbs_removed_and_added_symbols() -> None:
    assert found(lambda s: field(s, "sensor_kind")["type"]["symbols"].remove("VOC")) == []
    assert found(lambda s: field(s, "sensor_kind")["type"]["symbols"].append("RADON")) == []


def test_a_symbol_added_to_an_enum_the_old_schema_gave_no_default() -> None:
    old = changed(lambda s: field(s, "sensor_kind")["type"].pop("default"))
    new = copy.deepcopy(old)
    field(new, "sensor_kind")["type"]["symbols"].append("RADON")
    [problem] = incompatibilities(old, new)
    assert (problem.field, problem.rule) == ("sensor_kind", "enum-symbol-added")
    assert "gained symbol RADON, and the old enum has no default" in problem.message
    assert problem.message.endswith("new records cannot be read by the old schema")


def test_a_type_changed_incompatibly_breaks_both_ways() -> None:
    assert found(lambda s: field(s, "value").update(type="string")) == [
        (
            "value",
            "type-changed",
            "field 'value' changed type from double to string: old records cannot be read by "
            "the new schema, nor new records by the old schema",
        )
    ]


def test_a_promotion_reads_one_way_only() -> None:
    [(name, rule, message)] = found(lambda s: field(s, "value").update(type="float"))
    assert (name, rule) == ("value", "type-changed")
    assert message.endswith("from double to float: old records cannot be read by the new schema")


def test_a_change_inside_a_nested_record_names_the_nested_field() -> None:
    def change(schema: dict[str, Any]) -> None:
        field(schema, "location")["type"][1]["fields"][0]["type"] = "string"

    [(name, rule, _)] = found(change)
    assert (name, rule) == ("location.latitude", "type-changed")


def test_a_union_change_is_reported_with_the_fields_whole_types() -> None:
    [(name, _, message)] = found(lambda s: field(s, "ingest_time").update(type=["null", "string"]))
    assert name == "ingest_time"
    assert "from long (timestamp-millis) or null to string or null:" in message
    assert message.endswith("nor new records by the old schema")


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["fields"].append({"name": "fw", "type": ["null", "string"], "default": None}),
        lambda s: s["fields"].remove(field(s, "quality")),  # it has a default
        lambda s: field(s, "metadata").pop("default"),
        lambda s: field(s, "value").update(doc="other words"),
    ],
    ids=["optional-field-added", "optional-field-removed", "default-dropped", "doc-changed"],
)
def test_compatible_changes(change: Change) -> None:
    assert found(change) == []


def test_the_level_decides_which_readers_count() -> None:
    def remove(schema: dict[str, Any]) -> None:
        schema["fields"].remove(field(schema, "unit"))  # breaks old readers only

    assert found(remove, "BACKWARD_TRANSITIVE") == []
    assert [r for _, r, _ in found(remove, "FORWARD")] == ["removed-without-default"]
    assert found(remove, "NONE") == []
    assert directions("full_transitive") == ("backward", "forward")
    assert is_transitive("FULL_TRANSITIVE")
    assert not is_transitive("FULL")


def test_recursive_and_referenced_types_resolve() -> None:
    node: dict[str, Any] = {
        "type": "record",
        "name": "Node",
        "namespace": "t",
        "fields": [
            {"name": "label", "type": "string"},
            {"name": "next", "type": ["null", "Node"], "default": None},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
    assert incompatibilities(node, node) == []
    changed_items = copy.deepcopy(node)
    changed_items["fields"][2]["type"]["items"] = "int"
    [problem] = incompatibilities(node, changed_items)
    assert (problem.field, problem.rule) == ("tags[]", "type-changed")
    deeper = copy.deepcopy(node)
    deeper["fields"].append({"name": "weight", "type": "double"})
    [problem] = incompatibilities(node, deeper)
    assert (problem.field, problem.rule) == ("weight", "added-without-default")


def test_a_realistic_evolution_is_compatible_every_way() -> None:
    """Today's reading between an older one (no quality, metadata, elevation) and a newer
    one (a field and a sensor kind more), as the interop tests register them."""

    def older(schema: dict[str, Any]) -> None:
        schema["fields"] = [f for f in schema["fields"] if f["name"] not in ("quality", "metadata")]
        field(schema, "location")["type"][1]["fields"].pop()  # elevation_m

    def newer(schema: dict[str, Any]) -> None:
        schema["fields"].append({"name": "battery", "type": ["null", "double"], "default": None})
        field(schema, "sensor_kind")["type"]["symbols"].insert(-1, "RADON")

    history = [changed(older), READING, changed(newer)]
    for later, new in enumerate(history):
        for old in history[:later]:
            assert incompatibilities(old, new, "FULL_TRANSITIVE") == []


def test_a_registry_context_path_names_its_field() -> None:
    assert field_at(READING, "/fields/11") == ""  # past the last field: none
    assert field_at(READING, "/fields/4/type") == "value"
    assert field_at(READING, "/fields/3/type/symbols") == "sensor_kind"
    assert field_at(READING, "/fields/8/type/1/fields/0/type") == "location.latitude"


def test_a_refusal_reads_as_one_line_naming_subject_level_versions_field_and_rule() -> None:
    result = CheckResult(
        "sensor-data-dev.iotpipe.SensorReading",
        "incompatible",
        "FULL_TRANSITIVE",
        (1, 2),
        (
            Refusal((1,), "battery", "added-without-default", "field 'battery' added ..."),
            Refusal((1, 2), "value", "type-changed", "field 'value' changed ..."),
        ),
    )
    assert result.reasons == (
        "sensor-data-dev.iotpipe.SensorReading: refused (FULL_TRANSITIVE against version 1): "
        "field 'battery' added ...",
        "sensor-data-dev.iotpipe.SensorReading: refused (FULL_TRANSITIVE against versions 1, "
        "2): field 'value' changed ...",
    )
    ok = CheckResult("s", "compatible", "FULL_TRANSITIVE", (1, 2, 3))
    assert ok.verdict == "s: compatible (FULL_TRANSITIVE against versions 1, 2, 3)"
