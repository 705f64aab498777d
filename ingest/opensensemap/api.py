"""openSenseMap's upload routes: ``POST /boxes/{boxId}/data``, ``POST /boxes/{boxId}/{sensorId}``
(the GET side: :mod:`ingest.opensensemap.read_api`).

Paths, status codes and bodies are openSenseMap's (v1), so a senseBox only needs a new
host name: 201 with the JSON string ``"Measurements saved in box"``, errors as
``{"code","message"}`` (mapped in ``ingest.errors``). These routes authenticate with the
box's own access token (raw ``Authorization`` header, or v2's ``x-osem-device-api-key``),
never with iotpipe API keys. The body is read only after the box and token were checked,
exactly ``Content-Length`` bytes (the server delivers no more; senseBox sketches send a
CRLF after the body that is not part of it), and at most ``max_body_bytes``. (The single
route reads its small JSON body before the box and token checks: upstream's order.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from ingest.api.body import read_limited
from ingest.api.context import Ctx, trace_id
from ingest.api.examples import ExampleTimes
from ingest.domain.errors import BodyTimeout, BodyTooLarge
from ingest.opensensemap.decoding import query_of
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.read_api import BOX_EXAMPLE, SENSOR_EXAMPLE, opensensemap_read_router
from ingest.opensensemap.service import SAVED_BULK, SAVED_SINGLE, OsemService
from ingest.settings import IngestSettings

__all__ = ["TAG", "opensensemap_router"]

TAG = "openSenseMap"
TOKEN_HEADERS = ("authorization", "x-osem-device-api-key")

_ERROR = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
    "example": {"code": "Unauthorized", "message": "Box access token not valid!"},
}
_WHEN = {
    400: "A measurement for a sensor that is not part of the box; unparseable JSON; "
    "a parameter given twice (`?luftdaten=1&luftdaten=1`); single: `value` missing.",
    401: "Box access token not valid (boxes with useAuth, and always for hackAIR).",
    404: "Box not found; single: sensor not in the box.",
    408: "Body not received within ingest's body_timeout_seconds (not upstream).",
    413: "Body larger than ingest's max_body_bytes (upstream has no such limit).",
    415: "Unsupported content type, or a Content-Encoding (compressed bodies are refused).",
    422: "Invalid boxId/sensorId, undecodable body, invalid value/timestamp/location, "
    "more than 2500 measurements, or a value outside the reading contract.",
    429: "Kafka's producer queue is full: retry after Retry-After seconds (not upstream).",
    503: "Kafka unavailable: retry after Retry-After seconds (not upstream).",
}
_SECURITY: list[dict[str, list[str]]] = [{"boxToken": []}, {"deviceApiKey": []}, {}]


def _responses(*statuses: int, saved: str) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        201: {
            "description": "Stored: every measurement was produced to Kafka.",
            "content": {"application/json": {"schema": {"type": "string", "example": saved}}},
        }
    }
    for status in statuses:
        out[status] = {
            "description": _WHEN[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _bulk_body(times: ExampleTimes) -> dict[str, Any]:
    """The bulk upload's body; the CSV example's createdAt is served as an hour before the
    request (any age is accepted, but the database keeps readings for a while only)."""
    created = times.at(-timedelta(hours=1))
    return {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": f"{SENSOR_EXAMPLE},21.34\n"
                f"57000b8745fd40c8196ad04f,1200,{created},7.64568,51.962372\n",
            },
            "application/json": {
                "schema": {"oneOf": [{"type": "object"}, {"type": "array"}]},
                "example": [{"sensor": SENSOR_EXAMPLE, "value": 21.3}],
            },
            "application/sbx-bytes": {"schema": {"type": "string", "format": "binary"}},
            "application/sbx-bytes-ts": {"schema": {"type": "string", "format": "binary"}},
        },
    }


_SINGLE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "value": {"type": ["number", "string"]},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "location": {"oneOf": [{"type": "array"}, {"type": "object"}]},
                },
                "required": ["value"],
            },
            "example": {"value": 21.34},
        }
    },
}


async def _service(connection: HTTPConnection) -> OsemService:
    service: OsemService = connection.app.state.opensensemap
    return service


async def _body(request: Request, settings: IngestSettings) -> bytes:
    encoding = request.headers.get("content-encoding")
    if encoding not in (None, "", "identity"):  # never decompressed: no gzip bomb
        raise OsemError(
            415,
            "UnsupportedMediaType",
            f"Content-Encoding {encoding} is not accepted; send the body uncompressed.",
        )
    try:
        return await read_limited(request, settings.max_body_bytes, settings.body_timeout_seconds)
    except BodyTooLarge:
        raise OsemError(
            413, "PayloadTooLarge", f"Body exceeds {settings.max_body_bytes} bytes."
        ) from None
    except BodyTimeout:
        raise OsemError(
            408,
            "RequestTimeout",
            f"Body not received within {settings.body_timeout_seconds:g} seconds.",
        ) from None


def _tokens(request: Request) -> list[str | None]:
    return [request.headers.get(name) for name in TOKEN_HEADERS]


def opensensemap_router(times: ExampleTimes) -> APIRouter:
    router = APIRouter(tags=[TAG])

    @router.post(
        "/boxes/{boxId}/data",
        status_code=201,
        summary="Upload measurements of a box (openSenseMap bulk upload)",
        description="openSenseMap's bulk upload, unchanged: CSV (`text/csv`, lines "
        "`sensorId,value[,createdAt[,lng,lat[,height]]]`), JSON object "
        "(`{sensorId: value | [value, createdAt, location]}`) or array "
        "(`[{sensor, value, createdAt?, location?}]`), `application/sbx-bytes(-ts)`, "
        "luftdaten (sensor.community) and hackAIR payloads, selected by a `luftdaten` or "
        "`hackair` flag with any non-empty value, in the query string (`?luftdaten=1`) or "
        "as a key of a JSON object body (the query wins), as upstream; at most 2500 "
        "measurements, all or nothing. Measurements without createdAt get the receive "
        "time; createdAt may be at most 1 minute ahead, and any age. Each measurement "
        "becomes a SensorReading (device_id = box id, sensor_id = sensor id) produced to "
        "Kafka; 201 only once Kafka acknowledged all of them. Auth: the box's access "
        "token as the whole `Authorization` header (or `x-osem-device-api-key`), when the "
        "box has useAuth, and always for hackAIR.",
        responses=_responses(400, 401, 404, 408, 413, 415, 422, 429, 503, saved=SAVED_BULK),
        openapi_extra={"security": _SECURITY, "requestBody": _bulk_body(times)},
    )
    async def post_bulk(
        request: Request,
        ctx: Ctx,
        box_id: Annotated[
            str, Path(alias="boxId", description="The box's 24-hex id.", examples=[BOX_EXAMPLE])
        ],
    ) -> JSONResponse:
        service = await _service(request)
        upload = service.open_bulk(
            box_id,
            content_type=request.headers.get("content-type"),
            query=query_of(request.query_params.multi_items()),
            tokens=_tokens(request),
        )
        body = await _body(request, ctx.settings)
        await service.save(upload, body, trace=trace_id(request.headers))
        return JSONResponse(SAVED_BULK, status_code=201)

    @router.post(
        "/boxes/{boxId}/{sensorId}",
        status_code=201,
        summary="Upload one measurement of one sensor (openSenseMap single upload)",
        description="openSenseMap's single upload, unchanged: JSON "
        '`{"value": 21.34, "createdAt"?: RFC 3339, "location"?: [lng, lat, height] | '
        "{lng, lat, height}}`, as the senseBox custom sketch (`custom_setup`) sends it. "
        "`value`, `createdAt` and `location` may also be query parameters, which win over "
        "the body's, as upstream. Same auth, time and contract rules as the bulk upload.",
        responses=_responses(400, 401, 404, 408, 413, 415, 422, 429, 503, saved=SAVED_SINGLE),
        openapi_extra={"security": _SECURITY, "requestBody": _SINGLE_BODY},
    )
    async def post_single(
        request: Request,
        ctx: Ctx,
        box_id: Annotated[
            str, Path(alias="boxId", description="The box's 24-hex id.", examples=[BOX_EXAMPLE])
        ],
        sensor_id: Annotated[
            str,
            Path(
                alias="sensorId", description="The sensor's 24-hex id.", examples=[SENSOR_EXAMPLE]
            ),
        ],
    ) -> JSONResponse:
        service = await _service(request)
        content_type = request.headers.get("content-type")
        service.check_single(box_id, content_type=content_type)
        await service.save_single(
            box_id,
            sensor_id,
            await _body(request, ctx.settings),
            content_type=content_type,
            query=query_of(request.query_params.multi_items()),
            tokens=_tokens(request),
            trace=trace_id(request.headers),
        )
        return JSONResponse(SAVED_SINGLE, status_code=201)

    router.include_router(opensensemap_read_router())
    return router
