"""What the routes need, built once in ``create_app`` and reached through Depends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from ingest.auth.keys import ADMIN, KeyStore, Principal
from ingest.domain.errors import Forbidden, Unauthenticated
from ingest.domain.service import IngestService
from ingest.metrics import IngestMetrics
from ingest.publisher import Publisher
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract, new_traceparent

__all__ = [
    "ADMIN_ROLE",
    "AdminCaller",
    "Caller",
    "Ctx",
    "IngestContext",
    "authenticate",
    "authenticate_key",
    "context_of",
    "trace_id",
    "valid_traceparent",
]

ANONYMOUS = Principal(key_id="-", device_id=ADMIN, role="admin")


@dataclass(frozen=True)
class IngestContext:
    settings: IngestSettings
    contract: Contract
    publisher: Publisher
    service: IngestService
    metrics: IngestMetrics
    keys: KeyStore


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in
# a thread pool, a thread hop per request for what takes microseconds (measured: the
# largest cost of a single-reading request).
async def _context(connection: HTTPConnection) -> IngestContext:
    ctx: IngestContext = connection.app.state.ingest
    return ctx


Ctx = Annotated[IngestContext, Depends(_context)]


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return api_key


def authenticate(ctx: IngestContext, headers: Headers) -> Principal:
    return authenticate_key(ctx, headers.get("authorization"), headers.get("x-api-key"))


def authenticate_key(
    ctx: IngestContext, authorization: str | None, api_key: str | None
) -> Principal:
    """The caller of a request with these ``Authorization`` and ``X-API-Key`` headers."""
    if ctx.settings.auth == "disabled":
        return ANONYMOUS
    key = presented_key(authorization, api_key)
    if not key:
        raise Unauthenticated(
            "send your device's API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    principal = ctx.keys.verify(key)
    if principal is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return principal


def context_of(connection: HTTPConnection) -> IngestContext:
    """The context without FastAPI's dependency machinery: the publish routes call this
    and ``authenticate`` directly (resolving two dependencies was ~15 % of a
    single-reading request's CPU, measured with py-spy)."""
    ctx: IngestContext = connection.app.state.ingest
    return ctx


async def _caller(request: Request, ctx: Ctx) -> Principal:
    return authenticate(ctx, request.headers)


Caller = Annotated[Principal, Depends(_caller)]


async def _admin_caller(caller: Caller) -> Principal:
    """Admin-only operations depend on this: a device key gets 403 before the body and
    parameters are validated (only a body that is not JSON at all is 422 first). The
    OpenAPI document marks every operation that depends on it (``x-iotpipe-role: admin``,
    see ``ingest.app``), so tests find them all there."""
    if caller.role != "admin":
        raise Forbidden("this operation needs an admin key (iotpipe keys create NAME --admin)")
    return caller


AdminCaller = Annotated[Principal, Depends(_admin_caller)]
ADMIN_ROLE = _admin_caller  # the dependency the OpenAPI document looks for


def trace_id(headers: Headers) -> str:
    """The request's W3C traceparent, or a new one, propagated to Kafka headers."""
    given = headers.get("traceparent", "")
    return given if valid_traceparent(given) else new_traceparent()


def valid_traceparent(given: str) -> bool:
    parts = given.split("-")
    return len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16
