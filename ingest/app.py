"""``create_app``: the ingest FastAPI application, with its ports passed in explicitly."""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest import errors
from ingest.api.context import ADMIN_ROLE, IngestContext
from ingest.api.devices import devices_router
from ingest.api.docs import install_docs
from ingest.api.examples import ExampleTimes
from ingest.api.forward import JobsForwarder
from ingest.api.health import health_router
from ingest.api.hot import IngestApp, PublishRoute
from ingest.api.jobs import jobs_router
from ingest.api.records import records_router, request_schema_name
from ingest.api.schemas import RegistryCache, schemas_router
from ingest.api.stream import stream_router
from ingest.auth.keys import KeyStore
from ingest.domain.service import IngestService
from ingest.jobs.runner import JobPorts, JobRunner
from ingest.metrics import METRICS_DIR_ENV, IngestMetrics
from ingest.opensensemap.api import TAG as OSEM_TAG
from ingest.opensensemap.api import opensensemap_router
from ingest.opensensemap.cors import OpenSenseMapCors
from ingest.opensensemap.service import OsemService
from ingest.publisher import Publisher
from ingest.settings import IngestSettings
from iotpipe import __version__
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.devices.boxes import BoxDirectory, InMemoryBoxes
from iotpipe.devices.states import DeviceStates, InMemoryStates

__all__ = ["create_app"]

ROUTES = {
    "SensorReading": ("/v1/readings", "readings"),
    "DeviceEvent": ("/v1/device-events", "device events"),
}


def create_app(
    *,
    settings: IngestSettings,
    publisher: Publisher,
    keys: KeyStore | None = None,
    contract: Contract | None = None,
    registry: SchemaRegistry | None = None,
    boxes: BoxDirectory | None = None,
    jobs: JobPorts | None = None,
    device_states: DeviceStates | None = None,
) -> FastAPI:
    contract = contract or Contract.load()
    metrics = IngestMetrics(publisher.queue_depth, shared_dir=os.environ.get(METRICS_DIR_ENV))
    service = IngestService(
        publisher=publisher,
        metrics=metrics,
        max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
        max_age=timedelta(seconds=settings.max_age_seconds),
    )

    runner = JobRunner(
        settings=settings,
        service=service,
        model=contract.by_name("SensorReading").model(),
        ports=jobs or JobPorts.default(settings),
    )

    forward = None
    if settings.worker_index > 0 and settings.primary_socket:
        forward = JobsForwarder(
            settings.primary_socket,
            max_body_bytes=settings.max_body_bytes,
            retry_after=settings.retry_after_seconds,
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # In the background: a registry that does not answer must not hold up the start.
        starting = asyncio.create_task(publisher.start(contract.record_types), name="warm-up")
        await runner.start()
        sampling = asyncio.create_task(metrics.sample_forever(), name="metrics-sample")
        yield
        sampling.cancel()
        starting.cancel()
        if forward is not None:
            await forward.close()
        await runner.close()  # before the publisher: jobs stop publishing first
        await publisher.close()

    app = IngestApp(
        title="iotpipe ingest",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # install_docs: the pages' assets served locally, not from a CDN
        redoc_url=None,
        openapi_url=None,  # _serve_openapi: the examples timed at each request
        description="Validates sensor readings and device events against the Avro "
        "contract and produces them to Kafka. Responses say 202 only once Kafka has "
        "acknowledged every accepted record.",
    )
    ctx = app.state.ingest = IngestContext(
        settings=settings,
        contract=contract,
        publisher=publisher,
        service=service,
        metrics=metrics,
        keys=keys or KeyStore(settings.keys_file, recheck=settings.keys_recheck_ms / 1000),
    )
    app.forward_jobs = forward
    times = ExampleTimes(contract)
    app.state.boxes = boxes if boxes is not None else InMemoryBoxes()
    app.state.device_states = device_states if device_states is not None else InMemoryStates()
    app.state.jobs = runner
    for record_type in contract.record_types:
        path, tag = ROUTES.get(
            record_type.name, (f"/v1/{record_type.name.lower()}s", record_type.name)
        )
        # Served as plain ASGI ahead of FastAPI (ingest.api.hot), declared on its router.
        single = app.hot_routes[path] = PublishRoute(ctx, record_type, path, batch=False)
        batch = app.hot_routes[f"{path}/batch"] = PublishRoute(
            ctx, record_type, f"{path}/batch", batch=True
        )
        app.include_router(records_router(record_type, path, tag, single, batch))
    app.include_router(stream_router(contract))
    app.include_router(schemas_router(RegistryCache(registry, settings.retry_after_seconds), times))
    app.include_router(health_router())
    app.include_router(jobs_router(times))
    app.include_router(devices_router())
    # openSenseMap drop-in (senseBox devices, box tokens; answers as upstream does).
    app.state.opensensemap = OsemService(
        boxes=app.state.boxes,
        ingest=service,
        model=contract.by_name("SensorReading").model(),
    )
    app.include_router(opensensemap_router(times))
    _serve_openapi(app, times)
    install_docs(app)
    errors.install(app)

    app.add_middleware(OpenSenseMapCors)  # upstream's CORS under /boxes, OPTIONS 204
    app.add_middleware(RequestCounter, metrics=metrics)

    app.openapi = lambda: _openapi(app, contract)  # type: ignore[method-assign]
    return app


def _request_schema(record: dict[str, Any]) -> dict[str, Any]:
    """What a client sends for a record (the request bodies' schema): the record as the
    contract has it, but what ingest fills in is not asked of the client: ``event_id`` may
    be left out (assigned), ``ingest_time`` is set by ingest (a value sent is replaced),
    and ``event_time`` also takes Unix epoch seconds or milliseconds."""
    schema = copy.deepcopy(record)
    properties = schema["properties"]
    name = record.get("title", "")
    schema["title"] = f"{name}Request"
    schema["description"] = (
        f"{record.get('description', '')}\n\nAs sent to ingest: the `{name}` record, but "
        "`event_id` may be left out (ingest assigns one), `ingest_time` is set by ingest, "
        "and `event_time` may also be Unix epoch seconds or milliseconds."
    ).strip()
    schema["required"] = [f for f in schema.get("required", []) if f not in _FILLED_IN]
    if "ingest_time" in properties:
        properties["ingest_time"] = {
            **properties["ingest_time"],
            "readOnly": True,
            "description": "Set by ingest when it accepts the record; a value sent is replaced.",
        }
    if "event_time" in properties:
        as_text = {k: v for k, v in properties["event_time"].items() if k not in _ANNOTATIONS}
        properties["event_time"] = {
            **{k: v for k, v in properties["event_time"].items() if k in _ANNOTATIONS},
            "anyOf": [
                as_text,
                {"type": "number", "description": "Unix epoch seconds or milliseconds"},
            ],
        }
    return schema


_FILLED_IN = frozenset({"event_id", "ingest_time"})
_ANNOTATIONS = frozenset({"title", "description", "examples"})


def _add_contract_schemas(doc: dict[str, Any], contract: Contract) -> dict[str, Any]:
    """The contract's records (and the problem details) as components, each record's
    request variant beside it, and the record schemas as the published examples' answer."""
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    for model in [t.model() for t in contract.record_types] + [errors.Problem]:
        schema = model.model_json_schema(ref_template=template)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for record_type in contract.record_types:
        schemas[request_schema_name(record_type)] = _request_schema(schemas[record_type.name])
    # The published example of a record type is a whole record, as Kafka and the database
    # carry it: the contract's schema (requests use the *Request variants above).
    example = doc["paths"].get("/v1/schemas/{name}/example", {}).get("get")
    if example is not None:
        records = [{"$ref": template.format(model=t.name)} for t in contract.record_types]
        example["responses"]["200"]["content"]["application/json"]["schema"] = {"oneOf": records}
    return schemas


def _openapi(app: FastAPI, contract: Contract) -> dict[str, Any]:
    """FastAPI's document, plus the contract's models, problem details and key schemes."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    doc["info"]["license"] = {"name": "Apache-2.0", "identifier": "Apache-2.0"}  # pyproject's
    schemas = _add_contract_schemas(doc, contract)
    problem = {errors.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in doc["paths"].values():
        for operation in operations.values():
            if OSEM_TAG in operation.get("tags", []):
                continue  # openSenseMap answers {"code","message"}, as upstream
            for status, response in operation.get("responses", {}).items():
                if status[:1] in {"4", "5"}:  # every error is problem+json (ingest.errors)
                    response["content"] = problem
    admin = _admin_operations(app)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if (path, method) in admin:  # derived from the code, so the doc cannot drift
                operation["x-iotpipe-role"] = "admin"
                operation.setdefault("security", [{"bearer": []}, {"apiKey": []}])
            # The rest take no key (publishing and openSenseMap's routes declare theirs):
            # an empty list says so, where no list would leave it unsaid.
            operation.setdefault("security", [])
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A device's API key (`iotpipe keys create DEVICE_ID`).",
        },
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "boxToken": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "openSenseMap routes: the box's access token, the whole header "
            "value (no Bearer).",
        },
        "deviceApiKey": {"type": "apiKey", "in": "header", "name": "x-osem-device-api-key"},
    }
    app.openapi_schema = doc
    return doc


def _serve_openapi(app: FastAPI, times: ExampleTimes, url: str = "/openapi.json") -> None:
    """``GET /openapi.json``: ``app.openapi()`` (what ``iotpipe codegen`` writes, examples
    at the contract's fixed example time) serialized once, served with the example times
    moved to the time of the request (``ingest.api.examples``). A ``root_path`` is listed
    in ``servers``, as FastAPI's own route does."""
    serialized: dict[str, bytes] = {}  # by root path: one, in practice

    @app.get(url, include_in_schema=False)
    async def openapi(request: Request) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        if root not in serialized:
            doc = app.openapi()
            servers = doc.get("servers", [])
            if root and app.root_path_in_servers and root not in {s.get("url") for s in servers}:
                doc = {**doc, "servers": [{"url": root}, *servers]}
            serialized[root] = bytes(JSONResponse(doc).body)
        return Response(times.serve(serialized[root]), media_type="application/json")


def _admin_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every operation that depends on the admin check."""

    def needs_admin(dependant: Dependant) -> bool:
        return dependant.call is ADMIN_ROLE or any(needs_admin(d) for d in dependant.dependencies)

    return {
        (str(route.path_format), method.lower())
        for route in iter_route_contexts(app.routes)  # routes of included routers too
        if isinstance(route.original_route, APIRoute) and needs_admin(route.dependant)
        for method in route.methods or ()
    }


class RequestCounter:
    """Counts HTTP requests by route, method and status: a plain ASGI middleware (the
    decorator form runs every request through an extra task and stream)."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(route, scope["method"], str(status)).inc()
