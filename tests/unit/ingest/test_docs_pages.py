"""``/docs`` and ``/redoc`` name only ingest's own addresses, and those answer: nothing
of the pages comes from a CDN (tests/integration/ingest/test_api_pages.py renders them)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_page_loads_its_assets_from_ingest(client: TestClient, page: str) -> None:
    html = client.get(page).text
    addresses = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
    assert addresses, html
    for address in addresses:
        assert address.startswith("/"), address
        assert client.get(address).status_code == 200, address


def test_redoc_script_names_no_cdn(client: TestClient) -> None:
    script = client.get("/docs/assets/redoc.standalone.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in script.text
    assert "Redoc" in script.text


def test_the_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
