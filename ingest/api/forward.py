"""Forward the backfill-job operations of a secondary worker to the primary worker.

With several worker processes (``ingest.workers``), jobs run in one of them, the primary
(worker 0), which also listens on a private Unix socket; the kernel hands a client's
connection to any worker. A secondary worker passes every ``/v1/jobs`` request to the
primary as it came (method, path, query, headers, body) and answers with the primary's
answer, so every worker shows the same jobs. If the primary does not answer (it is
restarting), the answer is 503 with Retry-After.
"""

from __future__ import annotations

import httpx
import orjson
from starlette.types import Receive, Scope, Send

from ingest.domain.errors import BodyTooLarge, Unavailable
from ingest.errors import problem_parts

__all__ = ["JOBS_PREFIX", "JobsForwarder"]

JOBS_PREFIX = "/v1/jobs"
# Hop-by-hop headers (RFC 9110 7.6.1) and the length, which the client recomputes.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
        b"proxy-connection", b"content-length", b"host"}  # fmt: skip


class JobsForwarder:
    def __init__(self, socket_path: str, *, max_body_bytes: int, retry_after: int) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            base_url="http://ingest-primary",
            timeout=60.0,
        )
        self._max_body_bytes = max_body_bytes
        self._retry_after = retry_after

    def handles(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return scope["type"] == "http" and (
            path == JOBS_PREFIX or path.startswith(JOBS_PREFIX + "/")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._body(receive)
            response = await self._client.request(
                scope["method"],
                scope["path"],
                params=scope.get("query_string", b"").decode("latin-1") or None,
                headers=[(k, v) for k, v in scope["headers"] if k.lower() not in _HOP],
                content=body,
            )
        except BodyTooLarge as exc:
            await _problem(send, exc)
            return
        except httpx.HTTPError as exc:
            error = Unavailable(
                f"backfill jobs are unavailable: the primary worker did not answer ({exc!r})",
                retry_after=self._retry_after,
            )
            await _problem(send, error)
            return
        headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP]
        headers.append((b"content-length", str(len(response.content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": headers})  # fmt: skip
        await send({"type": "http.response.body", "body": response.content})

    async def _body(self, receive: Receive) -> bytes:
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return body
            chunk: bytes = message.get("body", b"")
            body += chunk
            if len(body) > self._max_body_bytes:
                raise BodyTooLarge(f"body exceeds the limit of {self._max_body_bytes} bytes")
            if not message.get("more_body", False):
                return body

    async def close(self) -> None:
        await self._client.aclose()


async def _problem(send: Send, error: Unavailable | BodyTooLarge) -> None:
    status, extra, content = problem_parts(error)
    body = orjson.dumps(content)
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode("latin-1")) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
