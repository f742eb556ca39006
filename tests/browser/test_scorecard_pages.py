"""The scorecard and a drill-down in Chromium at 1280 and 320 px (issue 17 section 2): the first
screen shows the headline counts of measures by status, every measure's status is visible
without scrolling sideways at 320 px, two charts on one page have unique ids and each chart's
accessible name carries its own figures, chart text is never below 12 CSS px at 320 px, and
axe-core finds nothing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from instruments import load_definitions
from survey_app.dashboard.scorecard import all_cards, headline, scorecard
from survey_app.definitions import current_definitions
from survey_app.demo import seed_demo
from survey_app.extensions import db
from survey_app.models import AnalysisResult, Role
from survey_app.results import compute_results

from ..conftest import make_app
from ..survey_app.helpers import add_user
from .accessibility import axe_violations
from .conftest import serve, sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1280, 320)
SHOTS = Path(os.environ.get("SCORECARD_SHOTS", "test-output/browser"))


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[tuple[str, object]]:
    """The demo council (results computed) served on loopback, with an analyst to sign in."""
    path = tmp_path_factory.mktemp("scorecard") / "demo.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        seed_demo(load_definitions(), seed=3)
        compute_results()
    add_user(app, "analyst@council.example", Role.ANALYST)
    with serve(app) as base:
        yield base, app


@pytest.fixture
def signed_in(chromium, demo_server) -> Iterator[tuple[object, str, object]]:
    base, app = demo_server
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, "analyst@council.example")
    page.wait_for_url(f"{base}/dashboard/")  # analysts land on the scorecard
    try:
        yield page, base, app
    finally:
        context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _expected_counts(app) -> dict[str, int]:
    """The headline as the package computes it from the latest results (what analysts read)."""
    with app.test_request_context():
        result = db.session.scalar(select(AnalysisResult).order_by(AnalysisResult.id.desc()))
        board = scorecard(current_definitions().framework, result)
        return dict(headline(all_cards(board)).measures)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_scorecards_first_screen_and_every_status_at_each_width(signed_in, width) -> None:
    page, base, app = signed_in
    page.set_viewport_size({"width": width, "height": 640 if width == 320 else 800})
    page.goto(f"{base}/dashboard/")
    _shot(page, f"scorecard-{width}px")
    # the first screen: the headline counts of measures by status, inside the viewport
    box = page.locator("#headline .pulse-counts").bounding_box()
    assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"]
    counts = _expected_counts(app)
    assert sum(counts.values()) == page.locator(".pulse-measure").count() > 20
    shown = page.locator("#headline .pulse-counts li").all_inner_texts()
    labels = {"met": "Target met", "on_track": "On track", "close": "Close"}
    labels |= {"off_track": "Off track", "none": "No rating"}
    for key, label in labels.items():
        assert f"{counts[key]}\n{label}" in shown
    # no sideways scrolling, and every measure's status tag is inside the viewport's width
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    tags = page.evaluate(
        """() => [...document.querySelectorAll('.pulse-measure [class*="pulse-status--"]')]
            .map(el => { const r = el.getBoundingClientRect();
                         return [r.left, r.right, el.textContent.trim()]; })"""
    )
    assert len(tags) == sum(counts.values())
    assert all(left >= 0 and right <= width and text for left, right, text in tags), tags
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_two_charts_on_one_page_keep_their_own_ids_names_and_text_size(signed_in, width) -> None:
    page, base, _ = signed_in
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{base}/dashboard/outcomes/O2/staff")  # the staff pulse and the roadshow
    _shot(page, f"drilldown-O2-staff-{width}px")
    # two trend charts (the key-driver charts beside them have their own ids too)
    assert page.locator("figure.pulse-figure--trend svg.pulse-chart").count() == 2
    _assert_unique_ids(page)
    names = _chart_names(page)
    tables = page.evaluate(
        """() => [...document.querySelectorAll('figure.pulse-figure--trend')].map(f => {
            const t = f.nextElementSibling.querySelector('table');
            return [...t.querySelectorAll('tbody tr')].map(r => r.cells[2] ?
                [r.cells[0].textContent.trim(), r.cells[2].textContent.trim()] : null); })"""
    )
    assert names[0] != names[1]
    for name, rows, title in zip(names, tables, ("Staff pulse", "roadshow"), strict=True):
        assert title.lower() in name.lower()
        # the chart's own figures (as its data table beneath shows them) are in its name
        scores = [(wave, score) for wave, score in rows if re.fullmatch(r"\d+%", score)]
        assert len(scores) >= 2
        for wave, score in scores:
            assert f"{wave.split()[0]} {score}" in name, (wave, score, name)
        assert "Target" in name and "Trajectory" in name
    _assert_readable_and_accessible(page, width)


def _assert_unique_ids(page) -> None:
    ids = page.evaluate("() => [...document.querySelectorAll('[id]')].map(el => el.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)[:5]


def _chart_names(page) -> list[str]:
    """Each trend chart's accessible name (its aria-labelledby title and description)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('figure.pulse-figure--trend svg.pulse-chart')].map(svg =>
            svg.getAttribute('aria-labelledby').split(' ')
               .map(id => document.getElementById(id).textContent).join(' '))"""
    )


def _assert_readable_and_accessible(page, width: int) -> None:
    """Chart text at 12 CSS px or more, no sideways scrolling, and nothing axe-core finds."""
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('svg.pulse-chart text')].map(t =>
            parseFloat(getComputedStyle(t).fontSize) *
            Math.hypot(t.getScreenCTM().a, t.getScreenCTM().b)))"""  # rotated labels too
    )
    assert smallest >= 12, f"chart text drawn at {smallest:.1f} CSS px"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_kpi_chart_in_its_units_is_reached_from_its_scorecard_row(signed_in, width) -> None:
    page, base, _ = signed_in
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{base}/dashboard/")
    page.click(".pulse-measure a:has-text('Budget gap for next year')")
    page.wait_for_url(f"{base}/dashboard/kpis/O10-gap")
    _shot(page, f"kpi-O10-gap-{width}px")
    charts = page.locator("figure.pulse-figure--trend svg.pulse-chart")
    assert charts.count() == 1
    _assert_unique_ids(page)
    (name,) = _chart_names(page)
    rows = page.evaluate(
        """() => [...document.querySelector('figure.pulse-figure--trend').nextElementSibling
            .querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()))"""
    )
    assert len(rows) >= 2
    # the chart's own figures, in its units, as the table beneath gives them
    for period, value, trajectory, *_ in rows:
        assert value.endswith(" £m") and f"{period} {value}" in name, (period, value, name)
        assert f"{period} {trajectory}" in name.split("Trajectory:")[1]
    assert "Target 0 £m by 31 Mar 2027" in name and "Baseline 48 £m" in name
    texts = set(charts.locator("text").all_text_contents())
    assert {"£m", "Recorded value", "Target", "Trajectory", "Baseline"} <= texts  # axis, legend
    assert "95% interval" not in texts and "% (0 to 100)" not in texts
    _assert_readable_and_accessible(page, width)
