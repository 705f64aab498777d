"""The JS coercions the decoders rely on, against values JavaScript (V8) gives.

Each expected string is what Node prints for the expression in the comment; these
decide stored values ("1" for 1.0, "0.3" for toFixed of 0.25) and 422 message bytes.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.opensensemap.decoding import numeric_value
from ingest.opensensemap.decoding._js import (
    UNDEFINED,
    is_numeric,
    js_keys,
    loads,
    math_round,
    number_to_string,
    parse_float,
    stringify,
    to_number,
    to_string,
    trim,
)
from ingest.opensensemap.decoding.sbx_bytes import to_fixed_1


@pytest.mark.parametrize(
    ("x", "js"),
    [
        (1.0, "1"),  # String(1.0)
        (-0.0, "0"),
        (0.1, "0.1"),
        (312.1, "312.1"),
        (1e3, "1000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (12341234123412340000.0, "12341234123412340000"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123.456e-5, "0.00123456"),
        (-2.5e25, "-2.5e+25"),
        (5e-324, "5e-324"),
        (math.inf, "Infinity"),
        (math.nan, "NaN"),
    ],
)
def test_number_to_string(x: float, js: str) -> None:
    assert number_to_string(x) == js


@pytest.mark.parametrize(
    ("x", "js"),
    [
        (4.300000190734863, "4.3"),  # float32 4.3 read as a double
        (0.25, "0.3"),  # (0.25).toFixed(1): exact tie, away from zero
        (-0.25, "-0.3"),
        (2.25, "2.3"),
        (0.35, "0.3"),  # 0.35 is 0.34999... as a double
        (-0.04, "-0.0"),
        (-0.0, "0.0"),
        (21.399999618530273, "21.4"),
        (1e21, "1e+21"),
        (math.nan, "NaN"),
    ],
)
def test_to_fixed_1(x: float, js: str) -> None:
    assert to_fixed_1(x) == js


@pytest.mark.parametrize(
    ("value", "numeric"),
    [
        ("1e3", True),
        (" 12.5 ", True),
        ("\u00a012.5\ufeff", True),  # JS whitespace includes NBSP and BOM
        ("0x1A", True),  # Number("0x1A") = 26, parseFloat = 0
        ("+.5", True),
        ("5.", True),
        (-0.5, True),
        ([5], True),  # String([5]) = "5" (the validators refuse arrays anyway)
        ("Infinity", False),
        ("1e400", False),
        ("1_000", False),  # Python's float() takes it; JS does not
        ("nan", False),
        ("١٢", False),  # Arabic-Indic digits: Python's float() takes them
        ("12abc", False),
        ("", False),
        (None, False),
        (True, False),
        ({}, False),
    ],
)
def test_is_numeric(value: object, numeric: bool) -> None:
    assert is_numeric(value) is numeric


def test_numeric_value_is_js_number() -> None:
    assert numeric_value("0x1A") == 26.0
    assert numeric_value(" 12.5 ") == 12.5
    assert numeric_value("1e3") == 1000.0
    assert math.isnan(numeric_value("1_000"))


@pytest.mark.parametrize(
    ("value", "js_string", "js_number", "js_parse_float"),
    [
        (None, "null", 0.0, math.nan),
        (True, "true", 1.0, math.nan),
        ([1, [2, None], "x"], "1,2,,x", math.nan, 1.0),
        ({"a": 1}, "[object Object]", math.nan, math.nan),
        ("  7.5abc", "  7.5abc", math.nan, 7.5),
        ("", "", 0.0, math.nan),
    ],
)
def test_coercions(value: object, js_string: str, js_number: float, js_parse_float: float) -> None:
    assert to_string(value) == js_string
    assert to_number(value) == js_number or (math.isnan(js_number) and math.isnan(to_number(value)))
    pf = parse_float(value)
    assert pf == js_parse_float or (math.isnan(js_parse_float) and math.isnan(pf))


def test_stringify_follows_json_stringify() -> None:
    obj = {"b": 1.0, "2": "two", "sensor": UNDEFINED, "1": math.nan, "loc": [1.5, UNDEFINED]}
    assert stringify(obj) == '{"1":null,"2":"two","b":1,"loc":[1.5,null]}'
    assert stringify(UNDEFINED) == "undefined"
    assert stringify('a"\\\n\x01é\ud800') == '"a\\"\\\\\\n\\u0001é\\ud800"'


def test_object_keys_order() -> None:
    assert js_keys({"x": 0, "10": 0, "2": 0, "01": 0, "4294967295": 0}) == [
        "2",
        "10",
        "x",
        "01",
        "4294967295",
    ]


def test_math_round_ties_towards_positive_infinity() -> None:
    assert [math_round(x) for x in (2.5, -2.5, 0.49999999999999994, -0.5)] == [3, -2, 0, 0]


def test_json_parse_numbers_are_doubles_and_constants_refused() -> None:
    assert loads('{"a": 1, "b": 12341234123412340001}') == {"a": 1.0, "b": 1.234123412341234e19}
    for text in ("NaN", "[Infinity]", "-Infinity"):
        with pytest.raises(ValueError, match="Unexpected token"):
            loads(text)


def test_trim_is_js_trim() -> None:
    assert trim("\u2028\t x \u3000\r\n") == "x"
    assert trim("\x1c x") == "\x1c x"  # not JS whitespace (Python's str.strip() removes it)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_to_string_reads_back_exactly(x: float) -> None:
    """String(n) is the shortest round-trip form: JSON readers get the same double back."""
    text = number_to_string(x)
    assert float(text) == x
    assert is_numeric(text)
