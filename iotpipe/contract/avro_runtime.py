"""What every generated codec (``generated/codecs/*.py``) shares: the error it raises, the
varint and logical-type helpers, and packers. Rendered code calls these by name; see
``iotpipe.contract.codecs`` for the generator.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from struct import Struct
from typing import Any
from uuid import UUID

from iotpipe.errors import ContractError

__all__ = [
    "DAYS_SHIFT",
    "EPOCH",
    "EPOCH_NAIVE",
    "CodecError",
    "StructError",
    "bad_value",
    "corrupt",
    "days_of",
    "fields_of",
    "json_loads",
    "local_micros_of",
    "local_millis_of",
    "micros_of",
    "millis_of",
    "missing_field",
    "pack_double",
    "pack_float",
    "read_date",
    "read_local_timestamp_micros",
    "read_local_timestamp_millis",
    "read_time_micros",
    "read_time_millis",
    "read_timestamp_micros",
    "read_timestamp_millis",
    "read_uuid",
    "read_varint",
    "time_micros_of",
    "time_millis_of",
    "truncated",
    "unpack_double",
    "unpack_float",
    "uuid_text",
    "write_long",
]

json_loads = json.loads
StructError = struct.error
pack_double = Struct("<d").pack
pack_float = Struct("<f").pack
unpack_double = Struct("<d").unpack_from
unpack_float = Struct("<f").unpack_from
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_NAIVE = datetime(1970, 1, 1)
DAYS_SHIFT = date(1970, 1, 1).toordinal()
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class CodecError(ContractError, ValueError):
    """A datum that does not fit the schema, or bytes that are not one of its records."""


def bad_value(where: str, expected: str, value: Any) -> CodecError:
    return CodecError(f"{where or 'value'}: expected {expected}, got {type(value).__name__}")


def missing_field(name: str) -> CodecError:
    return CodecError(f"{name}: required field is missing (it has no default)")


def truncated(pos: int) -> CodecError:
    return CodecError(f"truncated or corrupt record at byte {pos}")


def corrupt(pos: int, what: str) -> CodecError:
    return CodecError(f"corrupt record at byte {pos}: bad {what}")


_IS_MAPPING: dict[type, bool] = {}  # per class: a Mapping (read as is) or an object


def fields_of(d: Any) -> Any:
    """A record's fields: a mapping as it is, an object's ``__dict__`` (a model's)."""
    cls = d.__class__
    mapping = _IS_MAPPING.get(cls)
    if mapping is None:  # the ABC check once per class: it costs ~0.2 us a call
        mapping = _IS_MAPPING[cls] = isinstance(d, Mapping)
    if mapping:
        return d
    try:
        return d.__dict__
    except AttributeError:
        raise CodecError(f"expected a record (mapping or object), got {cls.__name__}") from None


def write_long(buf: bytearray, n: int, where: str) -> None:
    if (n.__class__ is not int and not isinstance(n, int)) or n.__class__ is bool:
        raise bad_value(where, "an int", n)
    if not LONG_MIN <= n <= LONG_MAX:
        raise CodecError(f"{where or 'value'}: {n} does not fit a 64-bit long")
    n = (n << 1) ^ (n >> 63)
    while n > 127:
        buf.append((n & 127) | 128)
        n >>= 7
    buf.append(n)


def read_varint(b: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        c = b[pos]
        pos += 1
        n |= (c & 127) << shift
        if c < 128:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise corrupt(pos, "varint (longer than 10 bytes)")


def millis_of(v: Any, where: str) -> int:
    if isinstance(v, datetime) and v.tzinfo is not None:
        d = v - EPOCH
        return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000
    raise bad_value(where, "an aware datetime or epoch milliseconds", v)


def micros_of(v: Any, where: str) -> int:
    if isinstance(v, datetime) and v.tzinfo is not None:
        d = v - EPOCH
        return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds
    raise bad_value(where, "an aware datetime or epoch microseconds", v)


def local_millis_of(v: Any, where: str) -> int:
    if isinstance(v, datetime) and v.tzinfo is None:
        d = v - EPOCH_NAIVE
        return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000
    raise bad_value(where, "a naive datetime or milliseconds", v)


def local_micros_of(v: Any, where: str) -> int:
    if isinstance(v, datetime) and v.tzinfo is None:
        d = v - EPOCH_NAIVE
        return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds
    raise bad_value(where, "a naive datetime or microseconds", v)


def days_of(v: Any, where: str) -> int:
    if isinstance(v, date) and not isinstance(v, datetime):
        return v.toordinal() - DAYS_SHIFT
    raise bad_value(where, "a date or days since the epoch", v)


def time_millis_of(v: Any, where: str) -> int:
    if isinstance(v, time):
        return (((v.hour * 60 + v.minute) * 60 + v.second) * 1000) + v.microsecond // 1000
    raise bad_value(where, "a time or milliseconds", v)


def time_micros_of(v: Any, where: str) -> int:
    if isinstance(v, time):
        return (((v.hour * 60 + v.minute) * 60 + v.second) * 1000000) + v.microsecond
    raise bad_value(where, "a time or microseconds", v)


def uuid_text(v: Any, where: str) -> str:
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, str):
        return str(v)  # a str subclass
    raise bad_value(where, "a UUID or its text", v)


def read_timestamp_millis(n: int) -> datetime:
    return EPOCH + timedelta(microseconds=n * 1000)


def read_timestamp_micros(n: int) -> datetime:
    return EPOCH + timedelta(microseconds=n)


def read_local_timestamp_millis(n: int) -> datetime:
    return EPOCH_NAIVE + timedelta(microseconds=n * 1000)


def read_local_timestamp_micros(n: int) -> datetime:
    return EPOCH_NAIVE + timedelta(microseconds=n)


def read_date(n: int) -> date:
    return date.fromordinal(n + DAYS_SHIFT)


def read_time_millis(n: int) -> time:
    h, rest = divmod(n, 3600000)
    m, rest = divmod(rest, 60000)
    s, ms = divmod(rest, 1000)
    return time(h, m, s, ms * 1000)


def read_time_micros(n: int) -> time:
    h, rest = divmod(n, 3600000000)
    m, rest = divmod(rest, 60000000)
    s, us = divmod(rest, 1000000)
    return time(h, m, s, us)


read_uuid = UUID
