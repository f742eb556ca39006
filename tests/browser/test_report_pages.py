"""The quarterly report as a web page, the drill-down's benchmarks, the public statements
and the safeguarding signposting in a real browser (issue 17 §3-§5): axe-core finds no
violation of any impact at 1280 and 320 CSS px, nothing scrolls sideways at 320 px, and the
report opens in the browser (served inline) with its own styles applied."""

from __future__ import annotations

import pytest

from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.models import Role
from survey_app.results import compute_results

from ..survey_app.helpers import add_user
from ..survey_app.survey_helpers import make_wave
from .accessibility import axe_violations
from .conftest import sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1280, 320)


def _check(page, output_dir, name: str, problems: dict[str, list[str]]) -> None:
    """axe at each width, and no sideways scrolling at 320 px; a screenshot of each."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(output_dir / f"{name}-{width}px.png"), full_page=True)
        violations = axe_violations(page)
        if violations:
            problems[f"{name} at {width}px"] = violations
        if width == 320:
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            if scroll > 320:
                problems[f"{name} at 320px"] = [f"the page is {scroll}px wide"]


def test_report_drilldown_and_public_pages_in_chromium(app, live_server, page, output_dir):
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
        slug = make_wave("resident-perception", label="browser-check").slug
    add_user(app, "viewer@council.example", Role.VIEWER)
    problems: dict[str, list[str]] = {}

    for path, name in [
        ("/privacy", "privacy-notice"),
        ("/accessibility", "accessibility-statement"),
    ]:
        page.goto(live_server + path)
        _check(page, output_dir, name, problems)

    page.goto(f"{live_server}/s/{slug}/1")  # the resident survey's comment page
    assert page.locator(".pulse-signposting").is_visible()
    _check(page, output_dir, "survey-page-signposting", problems)

    sign_in(page, live_server, "viewer@council.example")
    page.wait_for_url(f"{live_server}/**")

    page.goto(f"{live_server}/dashboard/outcomes/O12/residents")
    assert page.locator(".pulse-benchmarks").first.is_visible()
    _check(page, output_dir, "drilldown-benchmarks", problems)

    response = page.goto(f"{live_server}/dashboard/report.html?wave=2026-Q3")
    assert response is not None and response.ok
    assert response.headers["content-disposition"].startswith("inline")
    assert page.title().endswith("progress report for 2026-Q3")  # shown, not downloaded
    # its own styles are applied (the CSP allows them by hash): the heading's colour
    colour = page.evaluate("() => getComputedStyle(document.querySelector('h1')).color")
    assert colour == "rgb(11, 79, 108)"
    _check(page, output_dir, "report-html", problems)
    page.set_viewport_size({"width": 320, "height": 800})
    # every status tag is on the page and inside the viewport's width or a focusable region
    widest = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll('.govuk-tag')].map(tag => {
            const region = tag.closest('[role=region]');
            return region ? 0 : tag.getBoundingClientRect().right;
        }))"""
    )
    assert widest <= 320
    page.emulate_media(media="print")
    printed = page.evaluate("() => document.documentElement.scrollWidth")
    page.emulate_media(media="screen")
    assert printed <= 800  # printing shows the A4 layout, nothing cut off at the side

    assert problems == {}, problems
