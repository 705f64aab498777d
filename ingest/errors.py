"""The one place that maps ingest's errors to HTTP: status codes and problem+json bodies.

(The openSenseMap drop-in routes are the exception: ``OsemError`` carries upstream's
status and ``{"code","message"}`` body, mapped here as they are.)

Every error response is RFC 9457 ``application/problem+json``: ``type``, ``title``,
``status``, ``detail``, and, when the request carried records, ``results`` with each
record's fate. 429 and 503 carry ``Retry-After``; 401 carries ``WWW-Authenticate``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.api.models import Problem
from ingest.domain.accept import pointer
from ingest.domain.errors import (
    Backpressure,
    BodyTimeout,
    BodyTooLarge,
    Forbidden,
    IngestError,
    InvalidRecords,
    MalformedJson,
    NotFound,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from ingest.domain.service import RecordResult
from ingest.opensensemap.errors import OsemError

__all__ = ["PROBLEM", "Problem", "install", "problem_parts", "problem_response", "status_of"]

PROBLEM = "application/problem+json"
_STATUS: list[tuple[type[IngestError], int]] = [
    (MalformedJson, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (BodyTimeout, 408),
    (BodyTooLarge, 413),
    (UnsupportedMediaType, 415),
    (InvalidRecords, 422),
    (Backpressure, 429),
    (Unavailable, 503),
]


def status_of(error: IngestError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    results: list[Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://iotpipe.dev/problems/{title.replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if results:
        body["results"] = [r.as_dict() if isinstance(r, RecordResult) else r for r in results]
    return body


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    results: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, title, detail, errors=errors, results=results)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def problem_parts(exc: IngestError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """An ingest error as HTTP: status, the headers it needs, the problem+json body (the
    FastAPI handler and the plain-ASGI publish routes both answer from this)."""
    status = status_of(exc)
    headers = {}
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="iotpipe"'
    if isinstance(exc, BodyTooLarge | BodyTimeout):
        headers["Connection"] = "close"  # stop reading the rest of that body
    errors = None
    if exc.single and exc.results and isinstance(exc.results[0], RecordResult):
        errors = exc.results[0].as_dict().get("errors")
    body = problem_body(
        status, exc.title, exc.detail, errors=errors, results=None if exc.single else exc.results
    )
    return status, headers, body


def _ingest_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IngestError)  # noqa: S101 - registered for IngestError only
    status, headers, body = problem_parts(exc)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"code": e["type"], "pointer": pointer(e["loc"]), "message": e["msg"]} for e in exc.errors()
    ]
    return problem_response(
        422, "invalid request", "the request does not match the API", errors=errors
    )


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    return problem_response(
        exc.status_code,
        str(exc.detail).lower(),
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


def _osem_error(_request: Request, exc: Exception) -> JSONResponse:
    """openSenseMap routes answer as upstream does: ``{"code","message"}``, not problem+json
    (their clients are senseBox devices and tools written for openSenseMap)."""
    assert isinstance(exc, OsemError)  # noqa: S101 - registered for OsemError only
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    if exc.status in (408, 413):
        headers["Connection"] = "close"  # stop reading the rest of that body
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(IngestError, _ingest_error)
    app.add_exception_handler(OsemError, _osem_error)  # the more specific class wins
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
