"""``POST /v1/<records>`` and ``POST /v1/<records>/batch`` for each record type.

Bodies are read and parsed by hand (not by FastAPI) so that malformed JSON is 400, a
wrong media type 415, an oversized body or batch 413, and each record of a batch is
validated on its own; the OpenAPI document still describes every body with the
contract's JSON Schema and an example.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ingest.api.body import read_json
from ingest.api.context import authenticate, context_of, trace_id
from ingest.api.models import BatchAccepted, RecordAccepted
from ingest.domain.errors import (
    Backpressure,
    BodyTooLarge,
    Forbidden,
    InvalidRecords,
    Unavailable,
)
from ingest.domain.service import RecordResult
from ingest.errors import PROBLEM
from iotpipe.contract.catalog import RecordType, published_dir

__all__ = ["raise_for", "records_router"]


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


def raise_for(results: list[RecordResult], *, single: bool) -> None:
    """Turn results that accepted nothing (or lost some to Kafka) into the right error."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        retry = max(r.failure.retry_after for r in failed if r.failure is not None)
        cls = (
            Backpressure
            if any(r.failure and r.failure.reason == "queue_full" for r in failed)
            else Unavailable
        )
        raise cls(
            f"{len(failed)} of {len(results)} records were not acknowledged by Kafka; "
            "retry them with the same event_id",
            retry_after=retry,
            results=results,
            single=single,
        )
    if any(r.status == "accepted" for r in results):
        return
    what = "the record was" if single else f"all {len(results)} records were"
    if all(any(e.code == "forbidden_device" for e in r.errors) for r in results):
        raise Forbidden(
            f"{what} refused: this API key publishes for its own device only",
            results=results,
            single=single,
        )
    if all(any(e.code == "too_large" for e in r.errors) for r in results):
        raise BodyTooLarge(
            f"{what} refused: larger than Kafka accepts for one record",
            results=results,
            single=single,
        )
    raise InvalidRecords(f"{what} rejected; see errors", results=results, single=single)


def records_router(record_type: RecordType, path: str, tag: str) -> APIRouter:
    router = APIRouter(tags=[tag])
    model: type[BaseModel] = record_type.model()
    ref = {"$ref": f"#/components/schemas/{record_type.name}"}
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
        ctx = context_of(request)
        caller = authenticate(ctx, request.headers)
        raw = await read_json(
            request, ctx.settings.max_body_bytes, ctx.settings.body_timeout_seconds
        )
        results = await ctx.service.submit(
            [raw], model, devices=caller.may_publish_for(), trace=trace_id(request.headers)
        )
        raise_for(results, single=True)
        # RecordAccepted's shape, written directly: response_model keeps it in the
        # OpenAPI document, and FastAPI does not re-validate a Response.
        accepted = {"status": "accepted", "event_id": results[0].event_id or ""}
        return Response(
            orjson.dumps({**accepted, "record_type": record_type.fullname}),
            status_code=202,
            media_type="application/json",
        )

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
        ctx = context_of(request)
        caller = authenticate(ctx, request.headers)
        raw = await read_json(
            request, ctx.settings.max_body_bytes, ctx.settings.body_timeout_seconds
        )
        if not isinstance(raw, list) or not raw:
            raise InvalidRecords("expected a non-empty JSON array of records")
        if len(raw) > ctx.settings.max_batch_records:
            raise BodyTooLarge(
                f"batch of {len(raw)} records exceeds the limit of {ctx.settings.max_batch_records}"
            )
        results = await ctx.service.submit(
            raw, model, devices=caller.may_publish_for(), trace=trace_id(request.headers)
        )
        raise_for(results, single=False)
        body = {
            "accepted": sum(r.status == "accepted" for r in results),
            "rejected": sum(r.status == "rejected" for r in results),
            "results": [r.as_dict() for r in results],
        }
        return Response(orjson.dumps(body), status_code=202, media_type="application/json")

    return router
