"""The docs site as readers get it: built strictly (``mkdocs build --strict``, what
``make docs-build`` and CI run) once into a temporary folder, served on 127.0.0.1, and
the main pages of the navigation opened in headless Chromium: no console error, no failed
request, nothing fetched from outside the machine (the browser refuses and reports it),
and the page shows its title and its content. Every built page is also read for
anything it would fetch from elsewhere. Screenshots go to results/screenshots/docs/."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mkdocs.utils.yaml import yaml_load
from playwright.sync_api import Browser, expect

from iotpipe.contract.catalog import Contract
from iotpipe.paths import REPO_DIR
from iotpipe.reference.avro import named_types
from tests.browser import browser, visit
from tests.support import QuietLog, serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCREENSHOTS = REPO_DIR / "results/screenshots/docs"
CONFIG = REPO_DIR / "mkdocs.yml"


def nav_pages(nav: Any) -> list[str]:
    """Every page the navigation names (docs-relative .md paths), in order."""
    if isinstance(nav, list):
        return [page for entry in nav for page in nav_pages(entry)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return [nav] if isinstance(nav, str) and nav.endswith(".md") else []


NAV = nav_pages(yaml_load(CONFIG.read_text())["nav"])  # mkdocs' reader: its tags too
# What a reader must see on the main pages (besides the title): a CSS selector or text.
MAIN = {
    "index.md": None,
    "getting-started.md": None,
    "integrators/send-readings.md": None,
    "integrators/errors.md": None,
    "reference/schemas.md": "SensorReading",
    "reference/http-api.md": "POST /v1/readings",
    "reference/cli.md": "iotpipe stack up",
    "performance.md": None,
    "reliability.md": None,
}


def url_of(page: str) -> str:
    """The page's address on the site (mkdocs' directory URLs)."""
    stem = page.removesuffix(".md")
    if stem == "index":
        return ""
    return stem.removesuffix("/index") + "/"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(CONFIG), "-d", str(folder)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-5000:]}"
    return folder


class _Quiet(QuietLog, SimpleHTTPRequestHandler):
    pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    with serving(functools.partial(_Quiet, directory=site)) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as launched:
        yield launched


def test_the_navigation_names_the_main_pages() -> None:
    assert set(MAIN) <= set(NAV), sorted(set(MAIN) - set(NAV))


# The attribute of each element that makes the browser fetch by itself.
FETCHING = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href"}


class _Fetched(HTMLParser):
    """The addresses a page makes the browser fetch by itself (not the links it shows)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = FETCHING.get(tag)
        values = dict(attrs)
        if wanted and values.get(wanted) and values.get("rel") != "canonical":
            self.urls.append(str(values[wanted]))


def test_no_page_loads_anything_from_elsewhere(site: Path) -> None:
    """Every built page, not only those opened below: scripts, styles, fonts, images."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(NAV)
    for html in pages:
        parser = _Fetched()
        parser.feed(html.read_text())
        external = [u for u in parser.urls if urlsplit(u).scheme or u.startswith("//")]
        assert external == [], html.relative_to(site)
        assert "fonts.googleapis" not in html.read_text(), html.relative_to(site)


@pytest.mark.parametrize("page", list(MAIN))
def test_main_page_renders_offline_without_errors(
    base_url: str, chromium: Browser, page: str
) -> None:
    shot = SCREENSHOTS / f"{page.removesuffix('.md').replace('/', '-')}.png"
    report, opened = visit(chromium, base_url + url_of(page), screenshot=shot)
    assert report.problems == []
    assert report.title.endswith("iotpipe"), report.title
    assert opened.locator("article h1").first.inner_text().strip(), f"{page} has no heading"
    expected = MAIN[page]
    if expected:
        assert opened.get_by_text(expected).count() >= 1, f"{page} does not show {expected!r}"


def test_http_api_page_lists_every_operation(base_url: str, chromium: Browser) -> None:
    openapi = json.loads((REPO_DIR / "generated/openapi.json").read_text())
    _, page = visit(chromium, base_url + "reference/http-api/")
    text = page.locator("article").inner_text()
    for path, operations in openapi["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in text, f"{method.upper()} {path} missing"
    # The document itself is published beside the page, as the page's link says.
    link = page.get_by_role("link", name="download")
    assert link.get_attribute("href") == "../openapi.json"
    served = page.request.get(base_url + "reference/openapi.json")
    assert served.ok
    assert served.json() == openapi


def test_schemas_page_shows_every_field(base_url: str, chromium: Browser) -> None:
    _, page = visit(chromium, base_url + "reference/schemas/")
    for record_type in Contract.load().record_types:
        section = page.locator(f"h2#{record_type.name.lower()}")
        assert section.count() == 1, record_type.name
        for _, definition, _ in named_types(record_type.schema):
            for field in definition.get("fields", []):
                cell = page.locator("td code", has_text=field["name"])
                assert cell.count() >= 1, f"{record_type.name}.{field['name']}"


def test_search_finds_a_field_of_the_contract(base_url: str, chromium: Browser) -> None:
    """Material's search runs in the page (its index and worker come from the site)."""
    report, page = visit(chromium, base_url)
    page.locator("input.md-search__input").click()
    page.keyboard.type("battery_voltage")  # the search listens to keys, not to a filled value
    results = page.locator(".md-search-result")
    # Results follow each key typed ("b", "ba", ...): wait for those of the whole word,
    # which mark it, before reading them (a clean CI run read a prefix's 27 documents).
    expect(results.locator("mark", has_text="battery_voltage").first).to_be_visible(timeout=10_000)
    expect(results).to_contain_text("Schemas")
    assert report.problems == []
