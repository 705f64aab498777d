"""senseBox byte formats (``bytesHandler``): ``application/sbx-bytes(-ts)``.

Records of 12 bytes sensor id (the ObjectId, most significant byte first) + float32
little-endian value (+ uint32 little-endian unix seconds for ``-ts``). The value is
stored as ``readFloatLE(...).toFixed(1)``: rounded to one decimal, as a string ("4.3",
"0.0", "NaN" -> 422 Invalid value). createdAt is the receive time, or the record's
second for ``-ts``. An empty body is upstream's HTTP answer "Invalid data."; a length
that is not a multiple of the record size is 422 "Invalid count of bytes. Expects
multiples of N bytes." (upstream v1 answers 500 for ``-ts``, a bug; v2 answers 422).
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from ingest.opensensemap.decoding._js import number_to_string
from ingest.opensensemap.errors import OsemError

__all__ = ["decode_sbx_bytes", "decode_sbx_bytes_ts", "to_fixed_1"]

_VALUE: Final = struct.Struct("<f")
_SECONDS: Final = struct.Struct("<I")
_TENTH: Final = Decimal("0.1")


def to_fixed_1(x: float) -> str:
    """``Number.prototype.toFixed(1)``: exact decimal value, ties away from zero."""
    if not math.isfinite(x) or abs(x) >= 1e21:
        return number_to_string(x)
    if x == 0:
        return "0.0"  # also -0: toFixed drops its sign
    return str(Decimal(x).quantize(_TENTH, rounding=ROUND_HALF_UP))


def _decode(body: bytes, size: int) -> list[object]:
    if not body:
        raise OsemError.unprocessable("Invalid data.")
    if len(body) % size:
        raise OsemError.unprocessable(f"Invalid count of bytes. Expects multiples of {size} bytes.")
    out: list[object] = []
    for offset in range(0, len(body), size):
        (value,) = _VALUE.unpack_from(body, offset + 12)
        measurement: dict[str, Any] = {
            "sensor_id": body[offset : offset + 12].hex(),
            "value": to_fixed_1(value),
        }
        if size == 20:
            (seconds,) = _SECONDS.unpack_from(body, offset + 16)
            measurement["createdAt"] = datetime.fromtimestamp(seconds, UTC)
        out.append(measurement)
    return out


def decode_sbx_bytes(body: bytes) -> list[object]:
    """16-byte records; createdAt is the receive time."""
    return _decode(body, 16)


def decode_sbx_bytes_ts(body: bytes) -> list[object]:
    """20-byte records with their own unix second."""
    return _decode(body, 20)
