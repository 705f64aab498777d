"""JavaScript's value semantics, where upstream's results depend on them.

openSenseMap's decoders are JavaScript. Which values pass (``!isNaN(parseFloat(v)) &&
isFinite(v)``), how a JSON number is stored (``String(n)``: 1.0 -> "1", 1e21 -> "1e+21"),
how a 422 quotes the measurement (``JSON.stringify``: insertion order, integer-like keys
first, ``undefined`` left out, NaN as null) all follow from JS coercion rules. These few
functions reproduce them, so our stored values and messages are byte-identical to
upstream's; the rest of the package works with plain Python values (JSON numbers are
parsed as floats, as JS does).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "UNDEFINED",
    "WHITESPACE",
    "is_numeric",
    "iso_millis",
    "js_keys",
    "loads",
    "math_round",
    "number_to_string",
    "parse_float",
    "printable",
    "stringify",
    "to_number",
    "to_string",
    "trim",
    "truthy",
    "utf16_len",
]


class _Undefined:
    """JS ``undefined``: an absent property, or one set to undefined (left out of JSON)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()

# StrWhiteSpaceChar: WhiteSpace (incl. every Zs and U+FEFF) and LineTerminator.
_WS: Final = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# [0-9], never \d: Python's \d also matches other scripts' digits.
_DECIMAL: Final = r"[+-]?(?:Infinity|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
_DECIMAL_RE: Final = re.compile(_DECIMAL)
_NON_DECIMAL: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,9}")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


WHITESPACE: Final = _WS  # for str.strip(WHITESPACE) in hot loops


def trim(text: str) -> str:
    """``String.prototype.trim``."""
    return text.strip(_WS)


def utf16_len(text: str) -> int:
    """A JS string's ``length`` (UTF-16 code units)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def number_to_string(x: float) -> str:  # noqa: PLR0911 - the spec's cases
    """``Number.prototype.toString()`` (ECMA-262 Number::toString, radix 10)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # repr: the shortest round-trip digits
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    s = stripped.rstrip("0")
    k = len(s)
    if k <= n <= 21:
        return sign + s + "0" * (n - k)
    if 0 < n <= 21:
        return sign + s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + s
    e = n - 1
    exponent = ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + (s if k == 1 else s[0] + "." + s[1:]) + exponent


def to_string(value: object) -> str:  # noqa: PLR0911 - one case per JS type
    """``String(value)``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_to_string(float(value))
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else to_string(v) for v in value)
    if isinstance(value, datetime):
        return iso_millis(value)
    return "[object Object]"


def _string_to_number(text: str) -> float:
    t = trim(text)
    if not t:
        return 0.0
    if _DECIMAL_RE.fullmatch(t):
        return float(t)
    if _NON_DECIMAL.fullmatch(t):
        try:
            return float(int(t, 0))
        except OverflowError:
            return math.inf
    return math.nan


def to_number(value: object) -> float:
    """``Number(value)`` (ToNumber)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _string_to_number(value)
    if value is None:
        return 0.0
    if isinstance(value, list):
        return _string_to_number(to_string(value))
    return math.nan


def parse_float(value: object) -> float:
    """``parseFloat(value)``: the longest decimal prefix after leading whitespace."""
    if isinstance(value, float):
        return value
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):  # the common case
        return float(value)
    m = _DECIMAL_RE.match(to_string(value).lstrip(_WS))
    return float(m.group()) if m else math.nan


def is_numeric(value: object) -> bool:
    """Upstream's ``isNumeric``/``isNumber``: ``!isNaN(parseFloat(n)) && isFinite(n)``."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):  # the common case
        return math.isfinite(float(value))
    return not math.isnan(parse_float(value)) and math.isfinite(to_number(value))


def truthy(value: object) -> bool:
    if value is UNDEFINED or value is None or value is False:
        return False
    if isinstance(value, int | float):
        return not math.isnan(value) and value != 0
    if isinstance(value, str):
        return value != ""
    return True


def math_round(x: float) -> float:
    """``Math.round``: the nearest integer, ties towards +infinity."""
    if not math.isfinite(x):
        return x
    floor = math.floor(x)
    return float(floor + 1 if x - floor >= 0.5 else floor)


def js_keys(obj: dict[str, Any]) -> list[str]:
    """``Object.keys`` order: array-index keys ascending, then the rest as inserted."""
    index = [k for k in obj if _ARRAY_INDEX.fullmatch(k) and int(k) < 4294967295]
    if not index:
        return list(obj)
    index.sort(key=int)
    taken = set(index)
    return index + [k for k in obj if k not in taken]


def iso_millis(moment: datetime) -> str:
    """``Date.prototype.toISOString`` (millisecond precision, ``Z``)."""
    t = moment.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
        f"{t.second:02d}.{t.microsecond // 1000:03d}Z"
    )


def printable(text: str) -> str:
    """``text`` with lone surrogates (JSON ``\\ud800`` escapes) as ``\\uXXXX``: a message
    must stay encodable as UTF-8; JSON.stringify writes them so too."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _quote(text: str) -> str:
    return printable(json.dumps(text, ensure_ascii=False))


def stringify(value: object) -> str:
    """``JSON.stringify(value)`` (``"undefined"`` for undefined, as a template literal shows it)."""
    if value is UNDEFINED:
        return "undefined"
    return _json(value)


def _json(value: object) -> str:  # noqa: PLR0911 - one case per JS type
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        x = float(value)
        return number_to_string(x) if math.isfinite(x) else "null"
    if isinstance(value, list):
        return "[" + ",".join("null" if v is UNDEFINED else _json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{_quote(k)}:{_json(value[k])}" for k in js_keys(value) if value[k] is not UNDEFINED
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, datetime):
        return _quote(iso_millis(value))
    return "{}"


def _no_constant(name: str) -> float:
    raise ValueError(f"Unexpected token {name[0]} in JSON")


def loads(text: str) -> Any:
    """``JSON.parse``: every number a float; NaN/Infinity refused. ValueError if invalid."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
