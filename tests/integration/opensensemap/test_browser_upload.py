"""A web page on another origin uploads to a box with ``fetch``, in headless Chromium,
against a real ingest process: the browser's own CORS rules decide (a JSON body and an
``Authorization`` header make it send a preflight first), as they do for a viewer or a
dashboard page talking to openSenseMap. The readings must arrive in Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from playwright.sync_api import Browser

from tests.browser import browser
from tests.integration.opensensemap.conftest import HOME, OsemServer
from tests.support import QuietLog, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TEMP, HUMID = "57000b8745fd40c8196ad052", "57000b8745fd40c8196ad051"
PAGE = b"<!doctype html><title>viewer</title><p>a page on another origin</p>"
UPLOAD = """async ([url, token, body]) => {
  const answer = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": token},
    body: JSON.stringify(body),
  });
  return {status: answer.status, body: await answer.json()};
}"""


class _Page(QuietLog, BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A second origin (its own port) serving the page the upload runs in."""
    with serving(_Page) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as launched:
        yield launched


def test_a_page_on_another_origin_uploads_with_fetch(
    osem_server: OsemServer, page_origin: str, chromium: Browser
) -> None:
    page = chromium.new_context().new_page()
    page.goto(page_origin)
    since = osem_server.mark()
    url = f"http://127.0.0.1:{osem_server.port}/boxes/{HOME}/data"

    answer = page.evaluate(
        UPLOAD, [url, osem_server.token, {TEMP: 21.5, HUMID: 40.25}]
    )  # a CORS refusal would reject: "TypeError: Failed to fetch"

    assert answer == {"status": 201, "body": "Measurements saved in box"}
    records = [r.model_dump() for r in osem_server.consume(since, 2)]
    got = {r["sensor_id"]: r["value"] for r in records}
    assert got == {TEMP: 21.5, HUMID: 40.25}


def test_the_page_reads_an_error_with_its_code(
    osem_server: OsemServer, page_origin: str, chromium: Browser
) -> None:
    page = chromium.new_context().new_page()
    page.goto(page_origin)
    url = f"http://127.0.0.1:{osem_server.port}/boxes/{HOME}/data"

    answer = page.evaluate(UPLOAD, [url, "not the token", {TEMP: 1}])

    assert answer == {
        "status": 401,
        "body": {"code": "Unauthorized", "message": "Box access token not valid!"},
    }
