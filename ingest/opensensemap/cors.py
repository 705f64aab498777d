"""CORS on the openSenseMap routes, as upstream sends it (``apiUtils.preCors``).

openSenseMap's API answers every request with CORS headers and a preflight ``OPTIONS``
with 204, so a web page on any origin can upload to a box and read it (a browser sends a
preflight before a JSON or ``Authorization``-carrying ``fetch``). Under ``/boxes`` ingest
does the same, header for header:

- ``access-control-allow-origin: *``
- ``access-control-allow-methods``: ``OPTIONS``, the preflight's requested method and the
  request's method, upstream's order (``POST, OPTIONS``)
- ``access-control-allow-headers``: ``authorization`` and the preflight's requested
  headers, lower-cased
- ``access-control-max-age: 600``, ``access-control-expose-headers: content-disposition``

A header a route already set is kept. The iotpipe API (``/v1``) is not affected.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OpenSenseMapCors", "cors_headers"]

PREFIX = "/boxes"


def cors_headers(
    method: str, requested_method: str | None, requested_headers: str | None
) -> list[tuple[bytes, bytes]]:
    """Upstream's headers for a request (``requested_*``: a preflight's
    ``Access-Control-Request-Method`` and ``-Headers``)."""
    methods = dict.fromkeys(["OPTIONS"])  # an ordered set, as upstream's Set
    if requested_method:
        methods[requested_method.upper()] = None
    methods[method.upper()] = None
    allowed = dict.fromkeys(["authorization"])
    if requested_headers:
        allowed[requested_headers.lower()] = None
    return [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", ", ".join(reversed(methods)).encode("latin-1")),
        (b"access-control-allow-headers", ", ".join(allowed).encode("latin-1")),
        (b"access-control-max-age", b"600"),
        (b"access-control-expose-headers", b"content-disposition"),
    ]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class OpenSenseMapCors:
    """ASGI middleware: upstream's CORS headers on every answer under ``/boxes`` and 204
    for ``OPTIONS`` there; other paths pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        headers = cors_headers(
            method,
            _header(scope, b"access-control-request-method"),
            _header(scope, b"access-control-request-headers"),
        )
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
