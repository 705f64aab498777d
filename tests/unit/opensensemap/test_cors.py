"""CORS under /boxes as upstream sends it (packages/api/lib/helpers/apiUtils.js preCors,
run by ``server.pre`` for every request): the headers on every answer, errors included,
and 204 for a preflight. The iotpipe API under /v1 is not touched."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.opensensemap.vectors import ACCESS_TOKEN

HOME = "57000b8745fd40c8196ad04c"
TEMP = "57000b8745fd40c8196ad052"
DATA = f"/boxes/{HOME}/data"


def test_a_preflight_is_204_with_upstreams_headers(osem: TestClient) -> None:
    response = osem.options(
        DATA,
        headers={
            "Origin": "http://viewer.example",
            "Access-Control-Request-Method": "post",
            "Access-Control-Request-Headers": "Content-Type,Authorization",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    got = {k: v for k, v in response.headers.items() if k.startswith("access-control-")}
    assert got == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "POST, OPTIONS",  # Set(OPTIONS, POST, OPTIONS) reversed
        "access-control-allow-headers": "authorization, content-type,authorization",
        "access-control-max-age": "600",
        "access-control-expose-headers": "content-disposition",
    }


def test_a_preflight_of_any_path_under_boxes_is_204(osem: TestClient) -> None:
    for path in (f"/boxes/{HOME}/{TEMP}", f"/boxes/{HOME}", "/boxes", "/boxes/nope/at/all"):
        response = osem.options(path, headers={"Access-Control-Request-Method": "GET"})
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-methods"] == "GET, OPTIONS"


def test_uploads_and_their_errors_carry_the_headers(osem: TestClient) -> None:
    csv = {"Content-Type": "text/csv", "Origin": "http://viewer.example"}
    saved = osem.post(
        DATA, content=f"{TEMP},21.3\n", headers={**csv, "Authorization": ACCESS_TOKEN}
    )
    refused = osem.post(DATA, content=f"{TEMP},21.3\n", headers={**csv, "Authorization": "x"})
    unknown = osem.get(f"/boxes/{HOME}/locations")
    assert (saved.status_code, refused.status_code, unknown.status_code) == (201, 401, 404)
    for response in (saved, refused):
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-allow-methods"] == "POST, OPTIONS"
        assert response.headers["access-control-allow-headers"] == "authorization"
        assert response.headers["access-control-expose-headers"] == "content-disposition"
    assert unknown.headers["access-control-allow-methods"] == "GET, OPTIONS"


def test_a_header_the_route_set_is_not_repeated(osem: TestClient) -> None:
    response = osem.get(f"/boxes/{HOME}")
    assert response.status_code == 200
    origins = [v for k, v in response.headers.multi_items() if k == "access-control-allow-origin"]
    assert origins == ["*"]


def test_the_iotpipe_api_is_untouched(osem: TestClient) -> None:
    preflight = osem.options("/v1/readings", headers={"Access-Control-Request-Method": "POST"})
    health = osem.get("/healthz")
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in health.headers
    assert "access-control-allow-origin" not in osem.options("/boxesx").headers
