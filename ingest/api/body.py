"""Read a JSON request body safely: media type, size limit while streaming, strict JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from ingest.domain.errors import BodyTooLarge, MalformedJson, UnsupportedMediaType

__all__ = ["parse_json", "read_json"]


def _check_media_type(content_type: str | None, encoding: str | None) -> None:
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
    """Strict JSON (RFC 8259): no NaN or Infinity, valid UTF-8."""
    if not body:
        raise MalformedJson("the body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"not valid JSON: {exc}") from exc


async def read_json(request: Request, max_bytes: int) -> Any:
    _check_media_type(request.headers.get("content-type"), request.headers.get("content-encoding"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(f"body exceeds the limit of {max_bytes} bytes")
    return parse_json(bytes(body))
