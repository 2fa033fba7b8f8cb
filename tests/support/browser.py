"""Headless Chromium for the web UI tests (tests/e2e/test_web_ui_*.py), driven by Playwright's
Python API: one Chromium per module (`browser`), a fresh context with clean storage per page
(`open_page`), and what each page requested.

Playwright's own browser download is not used: the tests drive the system's Chromium (Debian's
`chromium` package, which .ci/run installs), found at SWITCHYARD_TEST_CHROMIUM, /usr/bin/chromium
or on PATH. Without Playwright or a Chromium the browser tests skip, saying which is missing.
Screenshots go to tests/e2e/screenshots/ (gitignored), or SWITCHYARD_TEST_SCREENSHOTS.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

SCREENSHOTS = Path(os.environ.get("SWITCHYARD_TEST_SCREENSHOTS")
                   or Path(__file__).resolve().parents[1] / "e2e" / "screenshots")
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    configured = os.environ.get("SWITCHYARD_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in _CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return ("no Chromium found (apt-get install -y chromium, or set SWITCHYARD_TEST_CHROMIUM "
                "to a Chromium binary)")
    return None


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        # The tests may run as root (CI containers), where Chromium's sandbox cannot start.
        chromium = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A page and what it did: every request (URL and headers) and every script error."""

    def __init__(self, browser: Any, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.requests: list[Any] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_selector("body.ready")
        return self.page


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def make(**options: Any) -> Page:
        page = Page(browser, **options)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.context.close()


def send(page: Any, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def last_answer(page: Any) -> Any:
    return page.locator(".msg.assistant").last


def wait_idle(page: Any) -> None:
    """The run has ended: Send is back, Stop is gone."""
    page.wait_for_selector("#send:not([hidden])")
    page.wait_for_selector("#stop", state="hidden")


def same_origin_only(requests: list[Any], origin: str) -> list[str]:
    """The requests that went anywhere but the server (none expected)."""
    return [r.url for r in requests if not (r.url.startswith(origin + "/") or r.url.startswith("data:")
                                            or re.match(r"^blob:", r.url))]
