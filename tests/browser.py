"""Headless Chromium (Debian's package) for the browser tests, driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (or
``IOTPIPE_CHROMIUM``) with the flags that keep it off the network by itself. A test calls
:func:`visit` and gets what a user would notice: console errors, uncaught page errors,
requests that failed or answered >= 400, and any request that tried to leave the machine
(those are refused, so a page that needs the internet shows it). Without Chromium the
test is skipped with the reason (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    sync_playwright,
)

__all__ = ["PageReport", "browser", "chromium_path", "visit"]

# The probe's flags: without the background-networking ones Chromium keeps trying to
# reach Google's hosts, which this machine's closed network refuses.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str | None:
    """The Chromium executable: ``IOTPIPE_CHROMIUM``, else ``chromium`` on the PATH."""
    explicit = os.environ.get("IOTPIPE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    """What happened while a page loaded."""

    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<status or error> <url>"
    external: list[str] = field(default_factory=list)  # refused: would have left the machine

    @property
    def problems(self) -> list[str]:
        return [
            *(f"console: {m}" for m in self.console_errors),
            *(f"page error: {m}" for m in self.page_errors),
            *(f"failed: {m}" for m in self.failed),
            *(f"external request: {u}" for u in self.external),
        ]


@contextmanager
def browser() -> Iterator[Browser]:
    """A headless Chromium for the test (skips when Chromium is missing)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome-error"}:
        return True
    return parts.scheme in {"http", "https", "ws", "wss", "file"} and (
        parts.scheme == "file" or (parts.hostname or "") in _LOCAL_HOSTS
    )


def visit(
    chromium: Browser,
    url: str,
    *,
    screenshot: Path | None = None,
    wait_for: str | None = None,
    timeout_ms: float = 20_000,
) -> tuple[PageReport, Page]:
    """Load ``url`` in a fresh page, refuse every request that would leave the machine,
    wait for the network to settle (and for ``wait_for``, a CSS selector, if given),
    optionally save a full-page screenshot, and report. The page stays open for more
    checks; it closes with its context when the browser does."""
    report = PageReport(url)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def route(r: Route, request: Request) -> None:
        if _is_local(request.url):
            r.continue_()
        else:
            report.external.append(request.url)
            r.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            report.console_errors.append(message.text)

    def request_failed(request: Request) -> None:
        if request.url not in report.external:
            report.failed.append(f"{request.failure} {request.url}")

    def response(answer: Response) -> None:
        if answer.status >= 400:
            report.failed.append(f"{answer.status} {answer.url}")

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda error: report.page_errors.append(str(error)))
    page.on("requestfailed", request_failed)
    page.on("response", response)
    page.goto(url, wait_until="networkidle", timeout=timeout_ms)
    if wait_for:
        page.wait_for_selector(wait_for, timeout=timeout_ms)
    report.title = page.title()
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    return report, page
