"""ingest's own API pages, ``/docs`` (Swagger UI) and ``/redoc``, in headless Chromium,
served by ``iotpipe ingest`` as shipped: they render the operations with nothing loaded
from outside the machine (the browser refuses such requests and reports them) and no
console errors. Screenshots go to results/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.paths import REPO_DIR
from tests.browser import browser, visit
from tests.integration.ingest.conftest import start_ingest
from tests.support import stop

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCREENSHOTS = REPO_DIR / "results/screenshots"


@pytest.fixture(scope="module")
def base_url(live_settings: tuple[IngestSettings, Contract, str, str]) -> Iterator[str]:
    """``iotpipe ingest`` on a free port, on the live test's topic."""
    served = start_ingest(live_settings[0])
    try:
        yield served.base
    finally:
        stop(served.process, 30)


def test_swagger_ui_lists_the_operations_offline(base_url: str) -> None:
    html = httpx.get(f"{base_url}/docs", timeout=5).text
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn." not in html
    with browser() as chromium:
        report, page = visit(
            chromium,
            f"{base_url}/docs",
            screenshot=SCREENSHOTS / "ingest-docs.png",
            wait_for='.opblock-post [data-path="/v1/readings"]',
        )
        assert report.problems == []
        assert report.title == "iotpipe ingest - Swagger UI"
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        for path in ("/v1/readings", "/v1/readings/batch", "/v1/device-events", "/healthz"):
            assert any(p.replace("\u200b", "") == path for p in paths), (path, paths)


def test_redoc_lists_the_operations_offline(base_url: str) -> None:
    html = httpx.get(f"{base_url}/redoc", timeout=5).text
    assert "/docs/assets/redoc.standalone.js" in html
    assert "fonts.googleapis" not in html
    with browser() as chromium:
        report, page = visit(
            chromium,
            f"{base_url}/redoc",
            wait_for="[data-section-id^='tag/readings']",
        )
        page.screenshot(path=str(SCREENSHOTS / "ingest-redoc.png"))  # the page is ~20,000 px tall
        assert report.problems == []
        assert report.title == "iotpipe ingest - ReDoc"
        # Redoc names each operation by its summary in the menu and shows its path.
        assert page.locator("[data-section-id^='tag/readings/operation/']").count() >= 2
        assert page.get_by_text("/v1/readings/batch", exact=True).count() >= 1
