"""openSenseMap's GET routes of a box, as ingest can answer them (:mod:`.reads`).

Served: ``GET /boxes/{boxId}`` (``?format=json|geojson``) from the device registry.
Not served, answered as upstream's restify router answers a route it does not have (404
``{"code":"ResourceNotFound","message":"<path> does not exist"}``): the routes that
answer measurements or search many boxes (``/boxes``, ``/boxes/data``,
``/boxes/data/bytag``, ``/boxes/{boxId}/sensors[/{sensorId}]``,
``/boxes/{boxId}/data/{sensorId}``, ``/boxes/{boxId}/locations``): readings are in
MongoDB (Grafana reads them there), not in ingest. ``GET /boxes/{boxId}/{sensorId}`` (and
``/data``) is 405 ``MethodNotAllowed`` with ``Allow: POST``, as upstream.

Every answer, errors included, is JSON with ``charset=utf-8`` and
``Access-Control-Allow-Origin: *`` (upstream's ``preRequest`` and ``preCors``), so a
viewer in a browser can read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ingest.opensensemap.decoding import query_of
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.reads import NOT_SERVED, get_box, method_not_allowed, not_served

__all__ = [
    "BOX_EXAMPLE",
    "CONTENT_TYPE",
    "SENSOR_EXAMPLE",
    "OsemJSONResponse",
    "opensensemap_read_router",
]

CONTENT_TYPE = "application/json; charset=utf-8"
_HEADERS = {"Access-Control-Allow-Origin": "*"}
_ERROR = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}
BOX_EXAMPLE = "57000b8745fd40c8196ad04c"  # upstream's apidoc box
SENSOR_EXAMPLE = "57000b8745fd40c8196ad04e"
_EXAMPLES = {"boxId": BOX_EXAMPLE, "sensorId": SENSOR_EXAMPLE}
_BOX_ID = Path(alias="boxId", description="The box's 24-hex id.", examples=[BOX_EXAMPLE])


def _error(when: str, example: dict[str, str]) -> dict[str, Any]:
    return {
        "description": when,
        "content": {CONTENT_TYPE: {"schema": {**_ERROR, "example": example}}},
    }


class OsemJSONResponse(JSONResponse):
    """JSON as upstream sends it (restify with ``charSet('utf-8')``)."""

    media_type = CONTENT_TYPE


def _respond(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """JSON in upstream's content type, with its CORS header."""
    return OsemJSONResponse(body, status_code=status, headers={**_HEADERS, **(headers or {})})


def _refuse(error: OsemError, headers: dict[str, str] | None = None) -> JSONResponse:
    return _respond(error.status, error.body(), headers)


def _answer(make: Callable[[], Any]) -> JSONResponse:
    """``make()``'s JSON (200), or the OsemError it raises."""
    try:
        return _respond(200, make())
    except OsemError as exc:
        return _refuse(exc)


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """The ``{name}`` parts of a path as OpenAPI path parameters (the handler reads none)."""
    names = re.findall(r"\{(\w+)\}", path)
    return [
        {
            "name": n,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "examples": [_EXAMPLES[n]]},
        }
        for n in names
    ]


def _not_served_route(router: APIRouter, path: str, what: str) -> None:
    """Answered, not published: an operation that never succeeds has no place in the
    OpenAPI document (a generated client would get a method that always fails; Redocly's
    operation-2xx-response refuses it). The openSenseMap page lists these routes."""

    @router.get(
        path,
        include_in_schema=False,
        summary=f"Not served by ingest: {what}",
        description=f"openSenseMap serves {what} here; iotpipe's ingest does not hold "
        "measurements (they are in MongoDB, read by Grafana), so it answers as "
        "openSenseMap's router answers a route it does not have: 404 ResourceNotFound.",
        status_code=404,
        responses={
            404: _error(
                "Not served (restify's answer for an unknown route).",
                {"code": "ResourceNotFound", "message": f"{path} does not exist"},
            )
        },
        name=f"osem_not_served_{path}",
        openapi_extra={"parameters": _path_parameters(path)},
    )
    async def not_served_here(request: Request) -> JSONResponse:
        return _refuse(not_served(request.url.path))


def opensensemap_read_router() -> APIRouter:
    router = APIRouter(tags=["openSenseMap"], default_response_class=OsemJSONResponse)

    # Upstream's static routes come before /boxes/:boxId (restify: first match wins).
    _not_served_route(router, "/boxes", "the search over all boxes (getBoxes)")
    _not_served_route(router, "/boxes/data", "measurements of many boxes (getDataMulti)")
    _not_served_route(router, "/boxes/data/bytag", "measurements by group tag")

    @router.get(
        "/boxes/{boxId}",
        summary="A box and its sensors (openSenseMap GET /boxes/:boxId)",
        description="The box as openSenseMap answers it, from ingest's device registry: "
        "`_id`, `name`, `exposure`, `model`, `currentLocation` (when known), `loc`, "
        "`sensors[]` (`_id`, `title`, `unit`, `sensorType`, `icon`). Not included, as "
        "ingest does not hold them: `lastMeasurement` of each sensor, `lastMeasurementAt`, "
        "`createdAt`, `updatedAt`, `grouptag`, `description`, `weblink`, `image`. Never "
        "the access token. `?format=geojson`: a GeoJSON Feature with the box as its "
        "properties.",
        responses={
            200: {
                "description": "The box.",
                "content": {CONTENT_TYPE: {"schema": {"type": "object"}}},
            },
            400: _error(
                "A query parameter given twice.",
                {"code": "BadRequest", "message": "Parameter format must only be specified once"},
            ),
            404: _error("Box not found.", {"code": "NotFound", "message": "Box not found"}),
            422: _error(
                "Invalid boxId, or a format other than json/geojson.",
                {
                    "code": "UnprocessableEntity",
                    "message": "Parameter boxId is not parseable as datatype id",
                },
            ),
        },
    )
    async def get_box_route(
        request: Request,
        box_id: Annotated[str, _BOX_ID],
        fmt: Annotated[
            str | None,
            Query(
                alias="format",
                description="`json` (the default) or `geojson`.",
                examples=["geojson"],
            ),
        ] = None,
    ) -> JSONResponse:
        del fmt  # documented here, read with the rest of the query (upstream's rules)
        boxes = request.app.state.boxes
        return _answer(lambda: get_box(boxes, box_id, query_of(request.query_params.multi_items())))

    for path, what in NOT_SERVED.items():
        _not_served_route(router, path, what)

    @router.get("/boxes/{boxId}/{sensorId}", include_in_schema=False)
    async def get_post_only(request: Request) -> JSONResponse:
        """A path only POST routes match (``/data``, ``/:sensorId``): restify's 405."""
        return _refuse(method_not_allowed(request.method), {"Allow": "POST"})

    return router
