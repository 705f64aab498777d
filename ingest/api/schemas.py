"""``GET /v1/schemas...``: the published contract, for integrators building clients.

The current Avro schema, JSON Schema and example of each record type come from the
committed contract; registered versions come from the schema registry and are cached,
so they are still served while the registry is briefly down. The example, the JSON
Schema's examples and the AsyncAPI document's are served with their times moved to the
time of the request (``ingest.api.examples``), so an example posted as it is is accepted.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from ingest.api.context import Ctx
from ingest.api.examples import ExampleTimes
from ingest.domain.errors import NotFound, Unavailable
from ingest.errors import PROBLEM
from iotpipe.contract.catalog import COMPATIBILITY, Contract, RecordType, published_dir
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.errors import ContractError, RegistryUnavailable

__all__ = ["RegistryCache", "schemas_router"]

Name = Annotated[
    str,
    PathParam(
        description="Record type name or full name",
        examples=["SensorReading", "dev.iotpipe.DeviceEvent"],
    ),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "unknown record type or version",
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


class SchemaJSONResponse(JSONResponse):
    media_type = "application/schema+json"


class RegistryCache:
    """Registered versions per subject, remembered after the first successful answer."""

    def __init__(self, registry: SchemaRegistry | None, retry_after: int) -> None:
        self._registry = registry
        self._retry_after = retry_after
        self._cache: dict[str, Any] = {}

    async def get(self, path: str) -> Any:
        if self._registry is None:
            raise Unavailable("no schema registry configured", retry_after=self._retry_after)
        try:
            response = await asyncio.to_thread(self._registry.raw_get, path)
        except RegistryUnavailable as exc:
            if path in self._cache:
                return self._cache[path]
            raise Unavailable(str(exc), retry_after=self._retry_after) from exc
        except ContractError as exc:
            raise NotFound(str(exc)) from exc
        self._cache[path] = response
        return response


def _find(contract: Contract, name: str) -> RecordType:
    try:
        return contract.by_name(name)
    except KeyError:
        known = ", ".join(t.name for t in contract.record_types)
        raise NotFound(f"no record type {name!r}; known: {known}") from None


def _published(*parts: str) -> bytes:
    """A published document, compact."""
    document = json.loads(Path(published_dir(), *parts).read_text())
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def schemas_router(cache: RegistryCache, times: ExampleTimes) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["schemas"])
    published = functools.cache(_published)  # read once: the files do not change while ingest runs

    def describe(t: RecordType) -> dict[str, Any]:
        base = f"/v1/schemas/{t.name}"
        return {
            "name": t.name,
            "fullname": t.fullname,
            "subject": t.subject,
            "topic": t.topic,
            "compatibility": COMPATIBILITY,
            "doc": t.schema.get("doc"),
            "links": {
                "avro": base,
                "versions": f"{base}/versions",
                "json_schema": f"{base}/json-schema",
                "example": f"{base}/example",
            },
        }

    @router.get("/schemas", summary="List the record types of the contract")
    async def list_schemas(ctx: Ctx) -> list[dict[str, Any]]:
        return [describe(t) for t in ctx.contract.record_types]

    @router.get(
        "/schemas/{name}", summary="The current Avro schema of a record type", responses=_ERRORS
    )
    async def avro(ctx: Ctx, name: Name) -> dict[str, Any]:
        record_type = _find(ctx.contract, name)
        return {**describe(record_type), "schema": record_type.schema}

    @router.get(
        "/schemas/{name}/versions",
        summary="Versions registered in the registry",
        responses={**_ERRORS, 503: _ERRORS[404] | {"description": "registry down"}},
    )
    async def versions(ctx: Ctx, name: Name) -> JSONResponse:
        subject = _find(ctx.contract, name).subject
        return JSONResponse(await cache.get(f"/subjects/{subject}/versions"))

    @router.get(
        "/schemas/{name}/versions/{version}",
        summary="One registered version",
        responses={**_ERRORS, 503: _ERRORS[404] | {"description": "registry down"}},
    )
    async def version(
        ctx: Ctx,
        name: Name,
        version: Annotated[int, PathParam(ge=1, examples=[1])],
    ) -> JSONResponse:
        subject = _find(ctx.contract, name).subject
        found = await cache.get(f"/subjects/{subject}/versions/{version}")
        if isinstance(found, dict) and isinstance(found.get("schema"), str):
            found = {**found, "schema": json.loads(found["schema"])}
        return JSONResponse(found)

    @router.get(
        "/schemas/{name}/json-schema",
        summary="JSON Schema of a record type",
        responses=_ERRORS,
        response_class=SchemaJSONResponse,
    )
    async def json_schema(ctx: Ctx, name: Name) -> Response:
        record_type = _find(ctx.contract, name)
        document = published("jsonschema", f"{record_type.fullname}.json")
        return Response(times.serve(document), media_type=SchemaJSONResponse.media_type)

    @router.get(
        "/schemas/{name}/example",
        summary="An example payload",
        description="The contract's example of the record type, its `event_time` the time "
        "of the request: posted as it is, with the device's key, it is accepted.",
        responses=_ERRORS,
        response_model=dict[str, Any],
    )
    async def example(ctx: Ctx, name: Name) -> Response:
        record_type = _find(ctx.contract, name)
        document = published("examples", f"{record_type.fullname}.json")
        return Response(times.serve(document), media_type="application/json")

    @router.get(
        "/asyncapi.json",
        summary="AsyncAPI 3.0 description of the Kafka topics",
        response_model=dict[str, Any],
    )
    async def asyncapi() -> Response:
        return Response(times.serve(published("asyncapi.json")), media_type="application/json")

    return router
