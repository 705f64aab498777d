from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from iotpipe.contract.rules import collect_rules, render_rules_module, type_overrides
from iotpipe.errors import ConfigError


def record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": list(fields)}


def test_rules_of_nested_and_optional_fields_are_collected() -> None:
    schema = record(
        {"name": "device_id", "type": "string", "rules": {"pattern": "^[a-z]+$"}},
        {"name": "level", "type": ["null", "int"], "default": None, "rules": {"minimum": 0}},
        {
            "name": "where",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Geo",
                    "fields": [
                        {"name": "lat", "type": "double", "rules": {"minimum": -90, "maximum": 90}}
                    ],
                },
            ],
        },
    )
    rules = collect_rules(schema, "r.avsc")
    assert [(r.record, r.field, r.base, r.constraints) for r in rules] == [
        ("R", "device_id", "str", (("pattern", "^[a-z]+$"),)),
        ("R", "level", "int", (("ge", 0),)),
        ("Geo", "lat", "float", (("ge", -90), ("le", 90))),
    ]
    assert type_overrides(rules, "m.rules") == {
        "R.device_id": "m.rules.RDeviceId",
        "R.level": "m.rules.RLevel",
        "Geo.lat": "m.rules.GeoLat",
    }


def test_rendered_module_defines_working_constrained_types() -> None:
    schema = record({"name": "lat", "type": "double", "rules": {"minimum": -90, "maximum": 90}})
    source = render_rules_module(collect_rules(schema, "r.avsc"), "# header")
    namespace: dict[str, Any] = {}
    exec(compile(source, "rules", "exec"), namespace)  # noqa: S102 - our own generated code
    adapter = TypeAdapter(namespace["RLat"])
    assert adapter.validate_python(45.0) == 45.0
    with pytest.raises(ValidationError, match="less than or equal to 90"):
        adapter.validate_python(90.5)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "x", "type": "string", "rules": {"minimun": 1}}, "unknown rule 'minimun'"),
        ({"name": "x", "type": "string", "rules": {"minimum": 1}}, "does not apply to string"),
        ({"name": "x", "type": "int", "rules": {"pattern": "a"}}, "does not apply to int"),
        ({"name": "x", "type": "string", "rules": {"pattern": "(["}}, r"pattern '\(\[' is invalid"),
        ({"name": "x", "type": "int", "rules": {"maximum": "10"}}, "needs a number"),
        (
            {"name": "x", "type": {"type": "map", "values": "string"}, "rules": {"maxLength": 1}},
            "do not apply to Avro type 'map'",
        ),
        (
            {"name": "x", "type": ["null", "int", "string"], "rules": {"minimum": 1}},
            "one non-null type",
        ),
        ({"name": "x", "type": "int", "rules": {}}, "non-empty object"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(field: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        collect_rules(record(field), "r.avsc")
    assert "r.avsc: R.x" in str(caught.value)
