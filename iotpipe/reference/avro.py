"""Reading an Avro record schema for people: its named types and each type as words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["NamedType", "fullname", "named_types", "type_text"]

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "enum", "fixed"}

# A named type: (full name, its definition, the namespace its own references resolve in).
NamedType = tuple[str, dict[str, Any], str]


def fullname(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _own_namespace(definition: dict[str, Any], enclosing: str) -> str:
    name = str(definition["name"])
    if "." in name:
        return name.rpartition(".")[0]
    return str(definition.get("namespace", enclosing))


def named_types(schema: Any, namespace: str = "") -> list[NamedType]:
    """Every record, enum and fixed defined in ``schema``, in the order they appear."""
    found: list[NamedType] = []
    _walk(schema, namespace, found)
    return found


def _walk(schema: Any, namespace: str, found: list[NamedType]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _walk(branch, namespace, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in NAMED:
            own = _own_namespace(schema, namespace)
            found.append((fullname(str(schema["name"]).rpartition(".")[2], own), schema, own))
            for field in schema.get("fields", []):
                _walk(field["type"], own, found)
        elif kind == "array":
            _walk(schema["items"], namespace, found)
        elif kind == "map":
            _walk(schema["values"], namespace, found)
        elif isinstance(kind, dict | list):
            _walk(kind, namespace, found)


def type_text(schema: Any, namespace: str, link: Callable[[str, str], str] | None = None) -> str:  # noqa: PLR0911 - one return per form of type
    """``schema`` in words: ``long (timestamp-millis)``, ``GeoLocation or null``,
    ``map of string``. ``link(fullname, name)`` renders a named type (default: its name)."""

    def named(full: str) -> str:
        short = full.rpartition(".")[2]
        return link(full, short) if link else short

    if isinstance(schema, str):
        return schema if schema in PRIMITIVES else named(fullname(schema, namespace))
    if isinstance(schema, list):
        branches = [type_text(b, namespace, link) for b in schema]
        if len(branches) == 2 and "null" in schema:
            return f"{branches[1 - schema.index('null')]} or null"
        return " or ".join(branches)
    kind = schema["type"]
    if kind in NAMED:
        own = _own_namespace(schema, namespace)
        text = named(fullname(str(schema["name"]).rpartition(".")[2], own))
        return f"{text} (fixed, {schema['size']} bytes)" if kind == "fixed" else text
    if kind == "array":
        return f"array of {type_text(schema['items'], namespace, link)}"
    if kind == "map":
        return f"map of {type_text(schema['values'], namespace, link)}"
    if isinstance(kind, dict | list):
        return type_text(kind, namespace, link)
    logical = schema.get("logicalType")
    if logical == "decimal":
        return f"{kind} (decimal, precision {schema['precision']}, scale {schema.get('scale', 0)})"
    return f"{kind} ({logical})" if logical else str(kind)
