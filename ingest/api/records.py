"""``POST /v1/<records>`` and ``POST /v1/<records>/batch`` for each record type, as the
OpenAPI document describes them.

They are served by ``ingest.api.hot.PublishRoute`` (before FastAPI's router, and from
these endpoints alike). Bodies are read and parsed by hand (not by FastAPI) so that
malformed JSON is 400, a wrong media type 415, an oversized body or batch 413, and each
record of a batch is validated on its own; the OpenAPI document still describes every
body with the contract's JSON Schema and an example.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ingest.api.hot import PublishRoute
from ingest.api.models import BatchAccepted, RecordAccepted
from ingest.errors import PROBLEM
from iotpipe.contract.catalog import RecordType, published_dir

__all__ = ["records_router", "request_schema_name"]


def _example(record_type: RecordType) -> dict[str, Any]:
    path = published_dir() / "examples" / f"{record_type.fullname}.json"
    example: dict[str, Any] = json.loads(path.read_text())
    return example


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"content": {PROBLEM: {"schema": schema}}, "description": "problem details"}
        for s in statuses
    }


def request_schema_name(record_type: RecordType) -> str:
    """The OpenAPI schema of a record as clients send it (``ingest.app`` derives it from
    the contract's: what ingest fills in is not required)."""
    return f"{record_type.name}Request"


def records_router(
    record_type: RecordType, path: str, tag: str, single: PublishRoute, batch: PublishRoute
) -> APIRouter:
    """The operations as FastAPI declares them (OpenAPI); ``IngestApp`` serves them from
    ``single`` and ``batch`` before FastAPI's router, and these endpoints do the same."""
    router = APIRouter(tags=[tag])
    ref = {"$ref": f"#/components/schemas/{request_schema_name(record_type)}"}
    example = _example(record_type)
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

    @router.post(
        path,
        status_code=202,
        response_model=RecordAccepted,
        summary=f"Publish one {record_type.name}",
        description=f"{record_type.schema.get('doc', '')}\n\nResponds 202 once Kafka has "
        "acknowledged the record. `event_id` may be left out (ingest assigns one); "
        "`event_time` takes ISO 8601 with a time zone or Unix epoch seconds/milliseconds.",
        responses=_errors(400, 401, 403, 408, 413, 415, 422, 429, 503),
        openapi_extra={
            "security": security,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref, "example": example}},
            },
        },
    )
    async def publish_one(request: Request) -> Response:
        return await _answer(single, request)

    @router.post(
        f"{path}/batch",
        status_code=202,
        response_model=BatchAccepted,
        summary=f"Publish a batch of {record_type.name} records",
        description="A JSON array of records. Each is validated on its own: the valid ones "
        "are published even when others fail, and `results` gives each record's index and "
        "fate (`accepted` with its event_id, or `rejected` with errors: code, JSON pointer "
        "into the record, message). 202 when at least one record was accepted and Kafka "
        "acknowledged all accepted ones; 422 (403) when none was; 503/429 with "
        "Retry-After if Kafka did not acknowledge some (their results say `failed`).",
        responses=_errors(400, 401, 403, 408, 413, 415, 422, 429, 503),
        openapi_extra={
            "security": security,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "items": ref, "minItems": 1},
                        "example": [example],
                    }
                },
            },
        },
    )
    async def publish_batch(request: Request) -> Response:
        return await _answer(batch, request)

    return router


async def _answer(route: PublishRoute, request: Request) -> Response:
    status, headers, body = await route.respond(request.scope, request.receive)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response
