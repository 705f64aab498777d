"""``docs/reference/schemas.md``: every record type of the contract, field by field.

From ``schemas/*.avsc`` (types, defaults, docs, logical types, rules, field examples),
the published examples (``generated/examples/``) and each schema's versions in git
(:mod:`iotpipe.reference.history`). Deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from iotpipe.contract.catalog import COMPATIBILITY, TOPIC, Contract, RecordType
from iotpipe.reference.avro import named_types, type_text
from iotpipe.reference.history import Version
from iotpipe.reference.markdown import (
    GENERATED_NOTE,
    anchor,
    cell,
    code,
    fenced,
    json_code,
    prose,
    table,
)

__all__ = ["CONTRACT_FILES", "render_schemas_page", "type_anchors"]

# Where the site publishes generated/'s artifacts, relative to the reference pages
# (the mkdocs hook, mkdocs_hooks.py, adds them to the build).
CONTRACT_FILES = "contract"

_RULES = {
    "minimum": "≥ {}",
    "maximum": "≤ {}",
    "exclusiveMinimum": "> {}",
    "exclusiveMaximum": "< {}",
    "minLength": "length ≥ {}",
    "maxLength": "length ≤ {}",
}


def type_anchors(contract: Contract) -> dict[str, str]:
    """Named type (short name) -> its heading id on the schemas page (first wins)."""
    anchors: dict[str, str] = {}
    for record_type in contract.record_types:
        for full, _, _ in named_types(record_type.schema):
            anchors.setdefault(full.rpartition(".")[2], _anchor(record_type, full))
    return anchors


def _anchor(record_type: RecordType, full: str) -> str:
    if full == record_type.fullname:
        return anchor(record_type.name)
    return anchor(record_type.name, full.rpartition(".")[2])


def _rules(rules: Mapping[str, Any]) -> str:
    parts = [template.format(json.dumps(rules[k])) for k, template in _RULES.items() if k in rules]
    if "pattern" in rules:
        parts.append(f"matches {code(rules['pattern'])}")
    return ", ".join(parts)


def _field_rows(
    record: dict[str, Any], namespace: str, link: Callable[[str, str], str]
) -> list[list[str]]:
    rows = []
    for field in record["fields"]:
        notes = [cell(field.get("doc", ""))]
        if field.get("rules"):
            notes.append(f"Rules: {_rules(field['rules'])}.")
        if "example" in field:
            notes.append(f"Example: {json_code(field['example'])}.")
        rows.append(
            [
                f"`{field['name']}`",
                type_text(field["type"], namespace, link),
                json_code(field["default"]) if "default" in field else "required",
                " ".join(n for n in notes if n),
            ]
        )
    return rows


def _record_section(
    record_type: RecordType, example: str, history: list[Version], versions_source: str
) -> str:
    def link(full: str, short: str) -> str:
        return f"[{short}](#{_anchor(record_type, full)})"

    name, full = record_type.name, record_type.fullname
    jsonschema = f"{CONTRACT_FILES}/jsonschema/{full}.json"
    lines = [
        f"## {name} {{#{anchor(name)}}}\n",
        prose(record_type.schema.get("doc", "")) + "\n",
        f"- Full name: `{full}`",
        f"- Subject: `{record_type.subject}` ({COMPATIBILITY})",
        f"- Schema file: `schemas/{record_type.schema_file.name}`",
        f"- JSON Schema: [{full}.json]({jsonschema}); example: "
        f"[{full}.json]({CONTRACT_FILES}/examples/{full}.json)\n",
    ]
    types = named_types(record_type.schema)
    for type_full, definition, namespace in types:
        short = type_full.rpartition(".")[2]
        if type_full != full:
            kind = definition["type"]
            lines.append(f"### {short} ({kind}) {{#{_anchor(record_type, type_full)}}}\n")
            if definition.get("doc"):
                lines.append(prose(definition["doc"]) + "\n")
        if definition["type"] == "record":
            rows = _field_rows(definition, namespace, link)
            lines.append(table(["Field", "Type", "Default", "Description"], rows))
        elif definition["type"] == "enum":
            symbols = ", ".join(f"`{s}`" for s in definition["symbols"])
            lines.append(f"Symbols: {symbols}.\n")
            if "default" in definition:
                lines.append(
                    f"A reader that meets a symbol it does not know reads "
                    f"`{definition['default']}` (the enum's default).\n"
                )
        else:
            lines.append(f"Fixed size: {definition['size']} bytes.\n")
    lines += [
        f"### Example {{#{anchor(name, 'example')}}}\n",
        f"In the JSON form the HTTP API takes (`generated/examples/{full}.json`, made from "
        "the fields' `example` attributes). Its `event_time` is fixed here; a running "
        f"ingest serves it at `/v1/schemas/{name}/example` with the current time, ready "
        "to post as it is:\n",
        fenced(example, "json"),
        f"### Versions {{#{anchor(name, 'versions')}}}\n",
        versions_source + "\n",
    ]
    for version in history:
        current = " (current)" if version is history[-1] else ""
        lines.append(f"- **Version {version.number}**{current}")
        lines += [f"    - {prose(change)}" for change in version.changes]
    return "\n".join(lines) + "\n"


VERSIONS_SOURCE = (
    "From the repository's git history of `schemas/`: each distinct text of this schema "
    "that a commit made (as `iotpipe schemas push` registers it: docs, rules and examples "
    "count, whitespace does not), oldest first, and the working tree's. A registry numbers "
    "only the versions pushed to it, so its numbers can differ."
)


def render_schemas_page(
    contract: Contract, examples: Mapping[str, str], history: Mapping[str, list[Version]]
) -> str:
    """The page, from the contract, each type's example (JSON text) and versions."""
    summary = [
        [
            f"[{t.name}](#{anchor(t.name)})",
            f"`{t.subject}`",
            f"`schemas/{t.schema_file.name}`",
            str(len(history[t.fullname])),
        ]
        for t in contract.record_types
    ]
    head = [
        GENERATED_NOTE,
        "",
        "# Schemas",
        "",
        f"The Avro contract, `schemas/*.avsc`: every record type on the Kafka topic `{TOPIC}`. "
        "Each type evolves under its own subject (TopicRecordNameStrategy, "
        f"`{TOPIC}-<namespace.Name>`) with {COMPATIBILITY} compatibility: every version can "
        "read data written by every other. A field without a default is required.",
        "",
        "This page is generated by `iotpipe codegen` from the schemas, the published "
        "examples and the schemas' git history; `iotpipe codegen --check` (CI) fails when "
        "it is stale. The Kafka topics, these types' messages and the dead letters are "
        f"also described as an AsyncAPI 3.0 document: [asyncapi.json]({CONTRACT_FILES}/"
        "asyncapi.json) (`generated/asyncapi.json`).",
        "",
        table(["Record type", "Subject", "Schema file", "Versions"], summary),
    ]
    sections = [
        _record_section(t, examples[t.fullname], history[t.fullname], VERSIONS_SOURCE)
        for t in contract.record_types
    ]
    return "\n".join(head) + "\n" + "\n".join(sections)
