"""``docs/reference/http-api.md``: ingest's HTTP API, from its OpenAPI document.

A static page (no script, nothing fetched): every operation grouped by tag, with its
parameters, request body and example, responses and authentication, then the models that
are not contract types (those link to the schemas page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from iotpipe.reference.markdown import GENERATED_NOTE, anchor, cell, fenced, prose, table

__all__ = ["render_http_page"]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class _Page:
    def __init__(self, doc: Mapping[str, Any], contract_anchors: Mapping[str, str]) -> None:
        self.doc = doc
        self.contract = contract_anchors  # contract type name -> id on schemas.md
        self.schemes = doc.get("components", {}).get("securitySchemes", {})

    def link(self, name: str) -> str:
        if name in self.contract:
            return f"[{name}](schemas.md#{self.contract[name]})"
        return f"[{name}](#{anchor('model', name)})"

    def type_text(self, schema: Mapping[str, Any]) -> str:  # noqa: PLR0911 - one return per form of type
        if "$ref" in schema:
            return self.link(str(schema["$ref"]).rpartition("/")[2])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [b for b in schema[key] if b.get("type") != "null"]
                text = " or ".join(self.type_text(b) for b in branches)
                return f"{text} or null" if len(branches) < len(schema[key]) else text
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        if "enum" in schema:
            return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            return " or ".join(kind)
        if kind == "array":
            return f"array of {self.type_text(schema.get('items', {}))}"
        if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            return f"map of {self.type_text(schema['additionalProperties'])}"
        if kind is None:
            return "any"
        return f"{kind} ({schema['format']})" if "format" in schema else str(kind)

    def auth(self, operation: Mapping[str, Any]) -> str:
        security = operation.get("security", [])
        if not security:
            return "none"
        ways = []
        for requirement in security:
            for name in requirement:
                scheme = self.schemes.get(name, {})
                if scheme.get("type") == "http":
                    ways.append(f"`Authorization: {str(scheme.get('scheme')).title()} <key>`")
                elif scheme.get("type") == "apiKey":
                    ways.append(f"`{scheme.get('name')}` {scheme.get('in')}")
                else:
                    ways.append(f"`{name}`")
        text = " or ".join(ways)
        if operation.get("x-iotpipe-role") == "admin":
            text += " (an admin key)"
        return text

    def constraints(self, schema: Mapping[str, Any]) -> str:
        words = {
            "pattern": "matches `{}`",
            "minimum": "≥ {}",
            "maximum": "≤ {}",
            "minLength": "length ≥ {}",
            "maxLength": "length ≤ {}",
            "minItems": "at least {} items",
            "maxItems": "at most {} items",
        }
        return ", ".join(t.format(schema[k]) for k, t in words.items() if k in schema)

    def parameters(self, operation: Mapping[str, Any]) -> str:
        rows = []
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            notes = [cell(parameter.get("description", schema.get("description", "")))]
            if limits := self.constraints(schema):
                notes.append(f"({limits})")
            rows.append(
                [
                    f"`{parameter['name']}`",
                    parameter["in"],
                    self.type_text(schema),
                    "yes" if parameter.get("required") else "no",
                    " ".join(n for n in notes if n),
                ]
            )
        if not rows:
            return ""
        return "Parameters:\n\n" + table(["Name", "In", "Type", "Required", "Description"], rows)

    def body(self, operation: Mapping[str, Any]) -> str:
        request = operation.get("requestBody")
        if not request:
            return ""
        required = " (required)" if request.get("required") else ""
        parts = [f"Request body{required}:\n"]
        examples = []
        for media, content in request.get("content", {}).items():
            schema = content.get("schema")
            described = f": {self.type_text(schema)}" if schema else ""
            parts.append(f"- `{media}`{described}")
            if "example" in content:
                examples.append((media, content["example"]))
            for name, example in content.get("examples", {}).items():
                if "value" in example:
                    examples.append((f"{media}, {example.get('summary', name)}", example["value"]))
        parts.append("")
        for label, value in examples:
            text = value if isinstance(value, str) else json.dumps(value, indent=2)
            language = "json" if not isinstance(value, str) else "text"
            parts.append(f"Example ({prose(label)}):\n\n{fenced(text, language)}")
        return "\n".join(parts) + "\n"

    def responses(self, operation: Mapping[str, Any]) -> str:
        rows = []
        for status, response in sorted(operation.get("responses", {}).items()):
            bodies = [
                f"`{media}`" + (f": {self.type_text(c['schema'])}" if c.get("schema") else "")
                for media, c in response.get("content", {}).items()
            ]
            rows.append([f"{status}", cell(response.get("description", "")), "; ".join(bodies)])
        return "Responses:\n\n" + table(["Status", "Description", "Body"], rows)

    def operation(self, method: str, path: str, operation: Mapping[str, Any]) -> str:
        parts = [
            f"### `{method.upper()} {path}` {{#{anchor(method, path)}}}\n",
            f"**{prose(operation.get('summary', ''))}**\n",
        ]
        if operation.get("description"):
            parts.append(prose(operation["description"]) + "\n")
        parts.append(f"Authentication: {self.auth(operation)}.\n")
        parts += [p for p in (self.parameters(operation), self.body(operation)) if p]
        parts.append(self.responses(operation))
        return "\n".join(parts)

    def model(self, name: str, schema: Mapping[str, Any]) -> str:
        parts = [f"### {name} {{#{anchor('model', name)}}}\n"]
        if schema.get("description"):
            parts.append(prose(schema["description"]) + "\n")
        required = set(schema.get("required", []))
        rows = []
        for key, prop in schema.get("properties", {}).items():
            notes = [cell(prop.get("description", ""))]
            if limits := self.constraints(prop):
                notes.append(f"({limits})")
            rows.append(
                [
                    f"`{key}`",
                    self.type_text(prop),
                    "yes" if key in required else "no",
                    f"`{json.dumps(prop['default'])}`" if "default" in prop else "",
                    " ".join(n for n in notes if n),
                ]
            )
        if rows:
            parts.append(table(["Property", "Type", "Required", "Default", "Description"], rows))
        elif "enum" in schema:
            parts.append(self.type_text(schema) + "\n")
        return "\n".join(parts)


def render_http_page(doc: Mapping[str, Any], contract_anchors: Mapping[str, str]) -> str:
    """The page for OpenAPI document ``doc``; ``contract_anchors`` maps each contract type's
    name to its heading id on the schemas page."""
    page = _Page(doc, contract_anchors)
    info = doc.get("info", {})
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for path, operations in doc.get("paths", {}).items():
        for method in METHODS:
            if method in operations:
                tag = (operations[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method, path, operations[method]))
    summary = [
        [
            f"[`{method.upper()} {path}`](#{anchor(method, path)})",
            cell(op.get("summary", "")),
            page.auth(op),
        ]
        for ops in by_tag.values()
        for method, path, op in ops
    ]
    lines = [
        GENERATED_NOTE,
        "",
        "# HTTP API",
        "",
        f"{prose(info.get('description', ''))}",
        "",
        f"{info.get('title', '')} {info.get('version', '')}, OpenAPI {doc.get('openapi', '')}. "
        "This page is rendered by `iotpipe codegen` from ingest's OpenAPI document, "
        "`generated/openapi.json` ([download](openapi.json)), the one a running ingest "
        "serves at `/openapi.json` (with Swagger UI at `/docs` and Redoc at `/redoc`); "
        "`iotpipe codegen --check` (CI) fails when it is stale. WebSocket routes are not "
        "part of an OpenAPI document.",
        "",
        "The examples on this page and in that file carry fixed times (the contract's "
        "example `event_time`, and a job's range and an openSenseMap `createdAt` near it). "
        "A running ingest serves the same document with those times moved to the time of "
        "the request, so an example copied from its `/openapi.json`, `/docs` or `/redoc` "
        "is accepted as it is. Copied from here, set `event_time` to the current time "
        "first: ingest refuses one more than 7 days old (`event_time_too_old`).",
        "",
        "## Summary",
        "",
        table(["Operation", "Summary", "Authentication"], summary),
    ]
    for tag, operations in by_tag.items():
        title = tag[:1].upper() + tag[1:] if tag.islower() else tag  # not "OpenSenseMap"
        lines += [f"## {prose(title)} {{#{anchor('tag', tag)}}}", ""]
        lines += [page.operation(method, path, op) for method, path, op in operations]
    schemas = doc.get("components", {}).get("schemas", {})
    contract = sorted(n for n in schemas if n in contract_anchors)
    lines += [
        "## Models",
        "",
        "Contract types, described field by field on the schemas page: "
        + ", ".join(page.link(n) for n in contract)
        + ".",
        "",
    ]
    lines += [page.model(n, s) for n, s in sorted(schemas.items()) if n not in contract_anchors]
    return "\n".join(lines).rstrip() + "\n"
