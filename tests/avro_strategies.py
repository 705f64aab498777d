"""Hypothesis strategies built from an Avro schema and its ``rules`` (test support).

They generate the Python values a generated model accepts: UUIDs, aware datetimes at
millisecond precision (what timestamp-millis keeps), enum symbols, and numbers and
strings within the declared rules. With ``edges=True`` they ignore the rules and reach
for what the Avro types themselves allow (the codec tests): the whole int/long range,
NaN and infinities, empty and any Unicode strings, timestamps as epoch integers too,
absent fields that have defaults, and named types referenced by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UTF8 = st.characters(exclude_categories=["Cs"])  # surrogates have no UTF-8 form
TEXT = st.text(alphabet=UTF8, max_size=40)


def _millis(moment: Any) -> Any:
    """A datetime or time at millisecond precision."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _number(kind: str, rules: dict[str, Any], edges: bool = False) -> st.SearchStrategy[Any]:
    low, high = rules.get("minimum"), rules.get("maximum")
    if kind in {"int", "long"}:
        lo, hi = INT32 if kind == "int" else INT64
        if edges:
            edge = st.sampled_from([lo, hi, 0, -1, 63, 64, -64, -65])
            return st.one_of(edge, st.integers(lo, hi))
        return st.integers(
            max(lo, low) if low is not None else lo, min(hi, high) if high is not None else hi
        )
    if edges:
        return st.floats(width=32 if kind == "float" else 64)  # NaN and infinities too
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


def _timestamp(unit: str, edges: bool) -> st.SearchStrategy[Any]:
    moments = st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
    if unit == "millis":
        moments = moments.map(_millis)
    if edges:  # before the epoch too, and epoch integers as fastavro takes them
        early = st.datetimes(datetime(1, 1, 2), datetime(9998, 12, 31), timezones=st.just(UTC))
        return st.one_of(moments, early.map(_millis) if unit == "millis" else early,
                         st.integers(*INT64))  # fmt: skip
    return moments


# Logical types beyond the contract's (the codec tests' schema): base type, values.
_OTHER_LOGICAL: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "date": ("int", st.one_of(st.dates(), st.integers(-719162, 2932896))),
    "time-millis": ("int", st.one_of(st.times().map(_millis), st.integers(0, 86_399_999))),
    "time-micros": ("long", st.one_of(st.times(), st.integers(0, 86_399_999_999))),
    "local-timestamp-millis": ("long", st.datetimes().map(_millis)),
    "local-timestamp-micros": ("long", st.datetimes()),
}


def _defined(
    sub: Callable[[Any], st.SearchStrategy[Any]], names: dict[str, Any], full: str
) -> Callable[[], st.SearchStrategy[Any]]:
    """The strategy of a named type, built when first drawn (it may be recursive)."""

    def definition() -> st.SearchStrategy[Any]:
        return sub(names[full])

    return definition


def from_avro(  # noqa: PLR0911, PLR0912 - one branch per Avro type reads best
    schema: Any,
    rules: dict[str, Any] | None = None,
    *,
    edges: bool = False,
    names: dict[str, Any] | None = None,
    namespace: str = "",
) -> st.SearchStrategy[Any]:
    rules = {} if edges else (rules or {})
    names = {} if names is None else names

    def sub(
        node: Any, node_rules: dict[str, Any] | None = None, ns: str = namespace
    ) -> st.SearchStrategy[Any]:
        return from_avro(node, node_rules, edges=edges, names=names, namespace=ns)

    if isinstance(schema, list):
        return st.one_of([sub(branch, rules) for branch in schema])
    if isinstance(schema, str):
        for full in (schema, f"{namespace}.{schema}"):
            if full in names:  # a named type defined earlier (maybe the record itself)
                return st.deferred(_defined(sub, names, full))
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if isinstance(kind, dict | list):
        return sub(kind, rules)
    if logical == "uuid" and kind == "string":
        return st.one_of(st.uuids(), st.uuids().map(str)) if edges else st.uuids()
    if logical in {"timestamp-millis", "timestamp-micros"} and kind == "long":
        return _timestamp(logical.split("-")[1], edges)
    if logical in _OTHER_LOGICAL and kind == _OTHER_LOGICAL[logical][0]:
        return _OTHER_LOGICAL[logical][1]
    simple: dict[str, st.SearchStrategy[Any]] = {"null": st.none(), "boolean": st.booleans()}
    if kind in simple:
        return simple[kind]
    if kind in {"int", "long", "float", "double"}:
        return _number(kind, rules, edges)
    if kind == "string":
        return st.text(alphabet=UTF8, max_size=80) if edges else _string(rules)
    if kind == "bytes":
        return st.binary(max_size=80)
    ns = schema.get("namespace", namespace)
    if kind in {"enum", "fixed", "record"}:
        name = schema["name"]
        names[("." in name and name) or (f"{ns}.{name}" if ns else name)] = schema
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "map":
        return st.dictionaries(st.text(alphabet=UTF8, max_size=12) if edges else TEXT,
                               sub(schema["values"]), max_size=4)  # fmt: skip
    if kind == "array":
        return st.lists(sub(schema["items"]), max_size=4)
    if kind == "record":
        fields = {f["name"]: sub(f["type"], f.get("rules"), ns) for f in schema["fields"]}
        if not edges:
            return st.fixed_dictionaries(fields)
        required = {f["name"]: fields[f["name"]] for f in schema["fields"] if "default" not in f}
        optional = {f["name"]: fields[f["name"]] for f in schema["fields"] if "default" in f}
        return st.fixed_dictionaries(required, optional=optional)  # defaults fill the rest
    raise NotImplementedError(f"no strategy for Avro type {kind!r}")
