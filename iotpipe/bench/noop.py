"""The bare HTTP servers: ingest's server stack (uvicorn with ingest's options, worker count
and runtime tuning) answering a no-op endpoint that reads the whole body and answers 202
``{"status":"accepted"}``, in two forms:

* ``asgi`` (the limit, ``bare_http_rps``): a plain ASGI callable, no framework: what
  uvicorn alone costs per request;
* ``fastapi`` (``bare_http_fastapi_rps``, the limit of earlier runs): the same answer
  from a FastAPI route.

``python -m iotpipe.bench.noop PORT [asgi|fastapi]`` (``asgi`` by default). Both answer
``GET /healthz`` with 200 for readiness.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request, Response

from ingest.server import tune_runtime
from ingest.settings import IngestSettings
from ingest.workers import serve

__all__ = ["KINDS", "create_app", "create_asgi_app", "noop_asgi"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ACCEPTED = b'{"status":"accepted"}'
_HEALTHY = b'{"status":"ok"}'


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]


async def noop_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """A no-op in plain ASGI: reads the request's whole body (every ``http.request``
    message, joined, as a framework would) and answers 202 ``{"status":"accepted"}``;
    ``GET /healthz`` answers 200."""
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    while True:
        event = await receive()
        if event["type"] != "http.request":  # http.disconnect: nobody to answer
            return
        chunks.append(event.get("body", b""))
        if not event.get("more_body", False):
            break
    _ = b"".join(chunks)  # the body as a framework hands it over
    if scope["method"] == "GET" and scope["path"] == "/healthz":
        status, body = 200, _HEALTHY
    else:
        status, body = 202, ACCEPTED
    await send({"type": "http.response.start", "status": status, "headers": _headers(body)})
    await send({"type": "http.response.body", "body": body})


def create_asgi_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The plain ASGI no-op, after the runtime tuning ingest's server processes get."""
    tune_runtime(IngestSettings())
    return noop_asgi


def create_app() -> FastAPI:
    app = FastAPI(title="iotpipe bench: no-op")

    @app.post("/noop", status_code=202)
    async def noop(request: Request) -> Response:
        await request.body()
        return Response(ACCEPTED, 202, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    tune_runtime(IngestSettings())
    return app


# kind -> the factory uvicorn imports in each worker process
KINDS = {"asgi": "create_asgi_app", "fastapi": "create_app"}


if __name__ == "__main__":
    kind = sys.argv[2] if len(sys.argv) > 2 else "asgi"  # PORT [KIND]
    # ingest's way of serving: its worker processes, each with a socket of its own.
    serve(IngestSettings(port=int(sys.argv[1])), app=f"iotpipe.bench.noop:{KINDS[kind]}")
