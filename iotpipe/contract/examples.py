"""Example payloads built from the ``example`` attributes in the .avsc files.

Each field may carry ``"example": <JSON value>`` (Avro allows extra attributes). The
example of a record is its fields' examples; a field without one uses its default, or is
left out when its default is null; an optional record is filled in when its own fields
have examples. Examples are in the JSON form the HTTP API takes (timestamps as ISO 8601).
"""

from __future__ import annotations

from typing import Any

from iotpipe.errors import ConfigError

__all__ = ["example_payload"]

_OMIT = object()


def _value(field: dict[str, Any], where: str) -> Any:
    if "example" in field:
        return field["example"]
    branches = field["type"] if isinstance(field["type"], list) else [field["type"]]
    for branch in branches:
        if isinstance(branch, dict) and branch.get("type") == "record":
            return example_payload(branch, where)
    if "default" in field:
        return _OMIT if field["default"] is None else field["default"]
    raise ConfigError(f"{where}.{field['name']}: a required field needs an 'example'")


def example_payload(record: dict[str, Any], where: str = "") -> dict[str, Any]:
    where = f"{where}.{record['name']}" if where else str(record["name"])
    payload = {}
    for field in record["fields"]:
        value = _value(field, where)
        if value is not _OMIT:
            payload[field["name"]] = value
    return payload
