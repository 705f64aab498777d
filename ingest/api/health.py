"""``/healthz`` (the process answers), ``/readyz`` (Kafka and registry reachable, the
device registry read), ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ingest.api.context import Ctx
from ingest.domain.errors import Unavailable
from ingest.errors import PROBLEM
from iotpipe.devices.boxes import BoxDirectory

__all__ = ["health_router"]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: Kafka and the schema registry are reachable, boxes are known",
        responses={
            503: {
                "description": "not ready",
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        },
    )
    async def readyz(request: Request, ctx: Ctx) -> dict[str, str]:
        problem = await asyncio.to_thread(ctx.publisher.problem)
        boxes: BoxDirectory = request.app.state.boxes
        if problem is None and not boxes.caught_up:
            # Until then a known senseBox would get 404 "Box not found".
            problem = "the device registry has not been read to its end yet"
        if problem is not None:
            raise Unavailable(problem, retry_after=ctx.settings.retry_after_seconds)
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(ctx: Ctx) -> Response:
        return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
