"""``/healthz`` (the process answers), ``/readyz`` (Kafka and registry reachable),
``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest.api.context import Ctx
from ingest.domain.errors import Unavailable
from ingest.errors import PROBLEM

__all__ = ["health_router"]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: Kafka and the schema registry are reachable",
        responses={
            503: {
                "description": "not ready",
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        },
    )
    async def readyz(ctx: Ctx) -> dict[str, str]:
        problem = await asyncio.to_thread(ctx.publisher.problem)
        if problem is not None:
            raise Unavailable(problem, retry_after=ctx.settings.retry_after_seconds)
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(ctx: Ctx) -> Response:
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
