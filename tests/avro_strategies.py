"""Hypothesis strategies built from an Avro schema and its ``rules`` (test support).

They generate the Python values a generated model accepts: UUIDs, aware datetimes at
millisecond precision (what timestamp-millis keeps), enum symbols, and numbers and
strings within the declared rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UTF8 = st.characters(exclude_categories=["Cs"])  # surrogates have no UTF-8 form
TEXT = st.text(alphabet=UTF8, max_size=40)


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _number(kind: str, rules: dict[str, Any]) -> st.SearchStrategy[Any]:
    low, high = rules.get("minimum"), rules.get("maximum")
    if kind in {"int", "long"}:
        lo, hi = INT32 if kind == "int" else INT64
        return st.integers(
            max(lo, low) if low is not None else lo, min(hi, high) if high is not None else hi
        )
    return st.floats(
        low, high, allow_nan=False, allow_infinity=False, width=32 if kind == "float" else 64
    )


def _string(rules: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = rules.get("minLength", 0), rules.get("maxLength", 40)
    if "pattern" in rules:
        return st.from_regex(rules["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high
        )
    return st.text(alphabet=UTF8, min_size=low, max_size=high)


def from_avro(  # noqa: PLR0911 - one branch per Avro type reads best
    schema: Any, rules: dict[str, Any] | None = None
) -> st.SearchStrategy[Any]:
    rules = rules or {}
    if isinstance(schema, list):
        return st.one_of([from_avro(branch, rules) for branch in schema])
    if isinstance(schema, str):
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if isinstance(kind, dict | list):
        return from_avro(kind, rules)
    if logical == "uuid":
        return st.uuids()
    if logical == "timestamp-millis":
        return st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)).map(
            _millis
        )
    simple: dict[str, st.SearchStrategy[Any]] = {"null": st.none(), "boolean": st.booleans()}
    if kind in simple:
        return simple[kind]
    if kind in {"int", "long", "float", "double"}:
        return _number(kind, rules)
    if kind == "string":
        return _string(rules)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "map":
        return st.dictionaries(TEXT, from_avro(schema["values"]), max_size=4)
    if kind == "array":
        return st.lists(from_avro(schema["items"]), max_size=4)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: from_avro(f["type"], f.get("rules")) for f in schema["fields"]}
        )
    raise NotImplementedError(f"no strategy for Avro type {kind!r}")
