"""Headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) against the app
served by a real multi-threaded server. No pytest-playwright: a small fixture is enough."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.survey_app.helpers import PASSWORD

from .assets import assets_problem

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session", autouse=True)
def built_assets() -> None:
    """Fail every browser test at once (before any app or browser starts), saying how to fix
    it, when the CSS is not built."""
    problem = assets_problem()
    if problem:
        pytest.fail(problem, pytrace=False)


@contextmanager
def serve(app) -> Iterator[str]:
    """``app`` served by a real multi-threaded server on a free loopback port, for as long
    as the block runs; yields the base URL (also the app's ``BASE_URL``, so that links it
    sends out lead back here)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app.config["BASE_URL"]
    finally:
        server.shutdown()
        thread.join(timeout=10)


def sign_in(page, base: str, email: str) -> None:
    """Send the staff sign-in form as ``email`` with the tests' password (the caller waits
    for the page it expects next: the scorecard, the second step, an error)."""
    page.goto(f"{base}/auth/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The ``app`` fixture served on a free loopback port; yields the base URL."""
    with serve(app) as base:
        yield base


@pytest.fixture
def page(chromium) -> Iterator[object]:
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
