"""Value rules Avro cannot express, declared in the .avsc as a ``rules`` object per field.

Avro allows extra attributes; ``"rules": {"minimum": -90, "maximum": 90}`` on a field
becomes a constrained type in ``generated/models/rules.py`` that the generated model
uses for that field (datamodel-code-generator's ``--type-overrides``), so changing a
rule in the schema changes validation everywhere. The vocabulary follows JSON Schema:

=================  =========================  ===================
rule               applies to                 Pydantic constraint
=================  =========================  ===================
minimum            int, long, float, double   ge
maximum            int, long, float, double   le
exclusiveMinimum   int, long, float, double   gt
exclusiveMaximum   int, long, float, double   lt
pattern            string                     pattern (Python re, full match needs ^...$)
minLength          string                     min_length
maxLength          string                     max_length
=================  =========================  ===================

Rules apply to scalar fields (optional ones too); the override replaces the field's
type, and for a map or array it would replace the item type, so those take no rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iotpipe.errors import ConfigError

__all__ = ["FieldRule", "collect_rules", "render_rules_module", "type_overrides"]

NUMERIC = {"int", "long", "float", "double"}
_CONSTRAINTS: dict[str, tuple[str, frozenset[str]]] = {
    "minimum": ("ge", frozenset(NUMERIC)),
    "maximum": ("le", frozenset(NUMERIC)),
    "exclusiveMinimum": ("gt", frozenset(NUMERIC)),
    "exclusiveMaximum": ("lt", frozenset(NUMERIC)),
    "pattern": ("pattern", frozenset({"string"})),
    "minLength": ("min_length", frozenset({"string"})),
    "maxLength": ("max_length", frozenset({"string"})),
}
_PYTHON_TYPES = {"int": "int", "long": "int", "float": "float", "double": "float", "string": "str"}


@dataclass(frozen=True)
class FieldRule:
    record: str  # Avro record name (= generated class name)
    field: str
    base: str  # Python type the constraints apply to
    constraints: tuple[tuple[str, Any], ...]  # (pydantic keyword, value), in rule order

    @property
    def type_name(self) -> str:
        words = re.split(r"[_\W]+", self.field)
        return self.record + "".join(w[:1].upper() + w[1:] for w in words if w)


def _records(schema: Any) -> Iterator[dict[str, Any]]:
    """Every record schema defined in ``schema``, outermost first."""
    if isinstance(schema, list):
        for branch in schema:
            yield from _records(branch)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            yield schema
            for field in schema.get("fields", []):
                yield from _records(field.get("type"))
        else:
            for key in ("type", "items", "values"):
                if key in schema:
                    yield from _records(schema[key])


def _avro_kind(field_type: Any, where: str) -> str:
    branches = field_type if isinstance(field_type, list) else [field_type]
    kinds = [b for b in branches if b != "null"]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: rules need one non-null type, found {kinds}")
    kind = kinds[0]
    if isinstance(kind, dict):
        if kind.get("logicalType"):
            raise ConfigError(f"{where}: rules on logical types are not supported")
        kind = kind.get("type")
    if kind not in _PYTHON_TYPES:
        raise ConfigError(f"{where}: rules do not apply to Avro type {kind!r}")
    return str(kind)


def collect_rules(schema: dict[str, Any], source: str) -> list[FieldRule]:
    """The rules declared in one .avsc, checked against the vocabulary."""
    found = []
    for record in _records(schema):
        for field in record.get("fields", []):
            rules = field.get("rules")
            if rules is None:
                continue
            where = f"{source}: {record['name']}.{field['name']}"
            if not isinstance(rules, dict) or not rules:
                raise ConfigError(f"{where}: 'rules' must be a non-empty object")
            kind = _avro_kind(field["type"], where)
            constraints = []
            for rule, value in rules.items():
                if rule not in _CONSTRAINTS:
                    known = ", ".join(_CONSTRAINTS)
                    raise ConfigError(f"{where}: unknown rule {rule!r} (known: {known})")
                keyword, kinds = _CONSTRAINTS[rule]
                if kind not in kinds:
                    raise ConfigError(f"{where}: rule {rule!r} does not apply to {kind}")
                if rule == "pattern":
                    try:
                        re.compile(value)
                    except (re.error, TypeError) as exc:
                        raise ConfigError(f"{where}: pattern {value!r} is invalid: {exc}") from exc
                elif isinstance(value, bool) or not isinstance(value, int | float):
                    raise ConfigError(f"{where}: rule {rule!r} needs a number, got {value!r}")
                constraints.append((keyword, value))
            found.append(
                FieldRule(record["name"], field["name"], _PYTHON_TYPES[kind], tuple(constraints))
            )
    return found


def type_overrides(rules: list[FieldRule], module: str) -> dict[str, str]:
    """datamodel-code-generator ``--type-overrides``: ``Record.field`` -> constrained type."""
    return {f"{r.record}.{r.field}": f"{module}.{r.type_name}" for r in rules}


def render_rules_module(rules: list[FieldRule], header: str) -> str:
    lines = [header, "", "from typing import Annotated", "", "from pydantic import Field", ""]
    for rule in sorted(rules, key=lambda r: r.type_name):
        args = ", ".join(f"{keyword}={value!r}" for keyword, value in rule.constraints)
        lines += ["", f"{rule.type_name} = Annotated[{rule.base}, Field({args})]"]
    names = ", ".join(f'"{r.type_name}"' for r in sorted(rules, key=lambda r: r.type_name))
    lines += ["", f"__all__ = [{names}]", ""]
    return "\n".join(lines)
