"""Read a JSON request body safely: media type, size limit while streaming, a deadline
for the whole body, strict JSON."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import Request

from ingest.api.duplicates import duplicate_key
from ingest.domain.errors import BodyTimeout, BodyTooLarge, MalformedJson, UnsupportedMediaType

__all__ = ["check_media_type", "parse_json", "read_json", "read_limited"]


def check_media_type(content_type: str | None, encoding: str | None) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {content_type or 'none'}"
        )
    if encoding not in (None, "", "identity"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not accepted; send plain JSON")


def parse_json(body: bytes | str) -> Any:
    """Strict JSON (RFC 8259): no NaN or Infinity, valid UTF-8, numbers that fit a double,
    and no member name twice in an object (orjson would keep the last one silently)."""
    if not body:
        raise MalformedJson("the body is empty; expected JSON")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in str(exc):  # orjson's position is meaningless for this one
            raise MalformedJson("not valid JSON: the body is not valid UTF-8") from exc
        raise MalformedJson(f"not valid JSON: {exc}") from exc
    repeated = duplicate_key(body, document)
    if repeated is not None:
        raise MalformedJson(
            f"not valid JSON: the key {repeated!r} appears twice in one object; send each key once"
        )
    return document


async def read_limited(request: Request, max_bytes: int, timeout_seconds: float) -> bytes:
    """The body, read as it streams in: stops at ``max_bytes`` (declared or chunked), and
    at ``timeout_seconds`` after it started reading (a body trickled byte by byte)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise BodyTooLarge(f"body exceeds the limit of {max_bytes} bytes")
    except TimeoutError:
        raise BodyTimeout(
            f"the body did not arrive within {timeout_seconds:g} s "
            f"({len(body)} bytes received); send it at once"
        ) from None
    return bytes(body)


async def read_json(request: Request, max_bytes: int, timeout_seconds: float) -> Any:
    check_media_type(request.headers.get("content-type"), request.headers.get("content-encoding"))
    return parse_json(await read_limited(request, max_bytes, timeout_seconds))
