"""The publish routes as plain ASGI, served before FastAPI's router sees the request.

``POST /v1/<records>`` and ``POST /v1/<records>/batch`` carry nearly all of ingest's
traffic, and for one reading FastAPI's layers (middleware, matching every route, the
Request and Response objects, exception handlers) cost more than the reading itself
(measured: a no-op route answered ~4x the requests as raw ASGI as it did as a FastAPI
route, under the same uvicorn). So ``IngestApp`` looks at method and path first and hands
these requests to their ``PublishRoute``; everything else goes to FastAPI unchanged.

The routes stay declared on FastAPI's router (``ingest.api.records``), whose endpoints
call the same ``PublishRoute``: the OpenAPI document, the contract tests and clients see
the same operations, and both ways answer the same (status, problem details, headers).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from ingest.api.body import check_media_type, parse_json
from ingest.api.context import IngestContext, authenticate_key, valid_traceparent
from ingest.api.forward import JobsForwarder
from ingest.domain.errors import BodyTimeout, BodyTooLarge, IngestError, InvalidRecords
from ingest.domain.service import raise_for
from ingest.errors import problem_parts
from iotpipe.contract.catalog import RecordType, new_traceparent

__all__ = ["BodyDeadlines", "IngestApp", "PublishRoute", "Response", "read_body"]

Response = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, raw headers, body
_JSON = (b"content-type", b"application/json")


class _ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to answer."""


class _RequestHeaders:
    """The request headers a publish route reads, found in one pass over the raw list
    (the first of repeated names counts, as Starlette's ``Headers.get``)."""

    __slots__ = ("api_key", "authorization", "content_encoding", "content_length",
                 "content_type", "traceparent")  # fmt: skip

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.authorization = self.api_key = self.content_type = None
        self.content_encoding = self.content_length = self.traceparent = None
        for name, value in raw:
            attribute = _WANTED.get(name)
            if attribute is not None and getattr(self, attribute) is None:
                setattr(self, attribute, value.decode("latin-1"))


_WANTED = {
    b"authorization": "authorization",
    b"x-api-key": "api_key",
    b"content-type": "content_type",
    b"content-encoding": "content_encoding",
    b"content-length": "content_length",
    b"traceparent": "traceparent",
}


class BodyDeadlines:
    """Cancels the reading of request bodies that take longer than allowed, with one
    timer for all of them: ``asyncio.timeout`` per request cost ~5 us, a tenth of a
    single reading's work here. A deadline is kept to within ``resolution`` seconds."""

    def __init__(self, resolution: float = 0.25) -> None:
        self._resolution = resolution
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def start(self, task: asyncio.Task[Any], timeout: float) -> None:
        loop = task.get_loop()
        self._reading[task] = loop.time() + timeout
        if self._timer is None:
            self._timer = loop.call_later(self._resolution, self._sweep, loop)

    def stop(self, task: asyncio.Task[Any]) -> bool:
        """Done reading; True if the deadline had passed (the task was cancelled)."""
        self._reading.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        if self._reading:
            self._timer = loop.call_later(self._resolution, self._sweep, loop)


async def read_body(
    receive: Receive, declared: str | None, max_bytes: int, timeout: float, deadlines: BodyDeadlines
) -> bytes:
    """The request body as it streams in: stops at ``max_bytes`` (declared or sent), and
    at ``timeout`` seconds after it started reading (a body trickled byte by byte)."""
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    body = b""
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - called from a request's task
    deadlines.start(task, timeout)
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            body = body + chunk if body else chunk
            if len(body) > max_bytes:
                raise BodyTooLarge(f"body exceeds the limit of {max_bytes} bytes")
            if not message.get("more_body", False):
                return body
    except asyncio.CancelledError:
        if not deadlines.stop(task):
            raise
        task.uncancel()
        raise BodyTimeout(
            f"the body did not arrive within {timeout:g} s "
            f"({len(body)} bytes received); send it at once"
        ) from None
    finally:
        deadlines.stop(task)


class PublishRoute:
    """One publish operation (single or batch) of one record type, start to answer."""

    def __init__(self, ctx: IngestContext, record_type: RecordType, path: str, *, batch: bool):
        self.ctx = ctx
        self.record_type = record_type
        self.model: type[BaseModel] = record_type.model()
        self.path = path
        self.batch = batch
        self._counted: dict[int, Any] = {}  # status -> the request counter's child
        self._deadlines = BodyDeadlines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self.respond(scope, receive)
        except _ClientGone:
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        counter = self._counted.get(status)
        if counter is None:
            counter = self._counted[status] = self.ctx.metrics.requests.labels(
                self.path, "POST", str(status)
            )
        counter.inc()

    async def respond(self, scope: Scope, receive: Receive) -> Response:
        """Status, headers and body of the answer; ``_ClientGone`` if there is no one to
        answer. Never raises for what a client sends."""
        try:
            return await self._publish(scope, receive)
        except IngestError as error:
            status, extra, content = problem_parts(error)
            body = orjson.dumps(content)
            headers = [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode("latin-1")) for k, v in extra.items()),
            ]
            return status, headers, body

    async def _publish(self, scope: Scope, receive: Receive) -> Response:
        ctx, settings = self.ctx, self.ctx.settings
        headers = _RequestHeaders(scope["headers"])
        caller = authenticate_key(ctx, headers.authorization, headers.api_key)
        check_media_type(headers.content_type, headers.content_encoding)
        raw = parse_json(
            await read_body(receive, headers.content_length, settings.max_body_bytes,
                            settings.body_timeout_seconds, self._deadlines)
        )  # fmt: skip
        trace = headers.traceparent
        if trace is None or not valid_traceparent(trace):
            trace = new_traceparent()
        if not self.batch:
            results = await ctx.service.submit(
                [raw], self.model, devices=caller.may_publish_for(), trace=trace
            )
            raise_for(results, single=True)
            # RecordAccepted's shape, written directly.
            body = b'{"status":"accepted","event_id":%s,"record_type":%s}' % (
                orjson.dumps(results[0].event_id or ""),
                orjson.dumps(self.record_type.fullname),
            )
            return 202, [_JSON, (b"content-length", str(len(body)).encode())], body
        if not isinstance(raw, list) or not raw:
            raise InvalidRecords("expected a non-empty JSON array of records")
        if len(raw) > settings.max_batch_records:
            raise BodyTooLarge(
                f"batch of {len(raw)} records exceeds the limit of {settings.max_batch_records}"
            )
        results = await ctx.service.submit(
            raw, self.model, devices=caller.may_publish_for(), trace=trace
        )
        raise_for(results, single=False)
        body = orjson.dumps(
            {
                "accepted": sum(r.status == "accepted" for r in results),
                "rejected": sum(r.status == "rejected" for r in results),
                "results": [r.as_dict() for r in results],
            }
        )
        return 202, [_JSON, (b"content-length", str(len(body)).encode())], body


class IngestApp(FastAPI):
    """FastAPI, with the publish routes (``hot_routes``, filled by ``create_app``) served
    before anything of FastAPI's: ``POST <path>`` of a publish route goes to it, anything
    else to FastAPI as usual."""

    hot_routes: dict[str, PublishRoute]
    # In a secondary worker process: the job operations, passed to the primary.
    forward_jobs: JobsForwarder | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "POST":
                route = self.hot_routes.get(scope["path"])
                if route is not None:
                    await route(scope, receive, send)
                    return
            if self.forward_jobs is not None and self.forward_jobs.handles(scope):
                await self.forward_jobs(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
