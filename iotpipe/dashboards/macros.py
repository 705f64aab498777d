"""Fill in a panel query the way Grafana and the MongoDB datasource plugin do.

Grafana's front end replaces template variables (``$device``, ``${device}``,
``${device:json}``) and the time range (``$__from``/``$__to``, epoch milliseconds) in
the query text; the plugin then parses it as MongoDB Extended JSON. Doing the same here
lets the pipelines run through pymongo exactly as Grafana would send them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import json_util

__all__ = ["interpolate", "parse_pipeline", "variable_names"]

_AWARE = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)(?::(?P<format>\w+))?\}|(?P<bare>\w+))")


def _format(value: str | list[str], fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt == "json":
        return json.dumps(values if isinstance(value, list) else value)
    if fmt == "doublequote":
        return ",".join(json.dumps(v) for v in values)
    if fmt == "regex":
        return "|".join(re.escape(v) for v in values) if len(values) > 1 else re.escape(values[0])
    if len(values) == 1:
        return values[0]
    return "{" + ",".join(values) + "}"  # Grafana's default (glob) format for multi-value


def interpolate(
    text: str,
    *,
    start: datetime,
    end: datetime,
    variables: Mapping[str, str | list[str]] | None = None,
) -> str:
    """Replace the time range and the given template variables in ``text``; like Grafana,
    leave any other ``$name`` alone (``$match``, ``$sum``, field paths)."""
    values: dict[str, str | list[str]] = {
        "__from": str(int(start.timestamp() * 1000)),
        "__to": str(int(end.timestamp() * 1000)),
        **(variables or {}),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        if name not in values:
            return match.group(0)
        return _format(values[name], match.group("format"))

    return _VARIABLE.sub(replace, text)


def parse_pipeline(text: str) -> list[dict[str, Any]]:
    """Extended JSON text to a pipeline pymongo takes (dates become datetimes)."""
    pipeline = json_util.loads(text, json_options=_AWARE)
    if not isinstance(pipeline, list) or not all(isinstance(s, dict) for s in pipeline):
        raise ValueError("a pipeline is a JSON array of stages")
    return pipeline


def variable_names(text: str) -> set[str]:
    """Every ``$name`` token in ``text`` that Grafana would try as a variable."""
    return {m.group("braced") or m.group("bare") for m in _VARIABLE.finditer(text)}
