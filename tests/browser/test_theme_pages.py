"""What people said in a real browser: axe-core finds no violation at 320 and 1280 px on an
outcome page with its theme table and on
the coding page with its topic suggestions open; nothing scrolls sideways at 320 px."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from instruments import load_definitions
from survey_app.extensions import db
from survey_app.models import Answer, Role
from survey_app.results import compute_results

from ..survey_app.helpers import add_user, member_wave_with
from .conftest import sign_in
from .test_action_pages import audit_widths

pytestmark = pytest.mark.browser


def _members(comments: list[str]) -> list[dict[str, str]]:
    instrument = load_definitions().instruments["member-pulse"]
    return [{**{q.id: "4" for q in instrument.scale_questions}, "M90": c} for c in comments]


def test_theme_table_and_topic_suggestions_are_accessible(app, live_server, chromium, output_dir):
    comments = ["Better communication and information please"] * 7
    comments += ["Parking permits cost too much", "Potholes on every road"] * 4
    with app.app_context():
        wave_id = member_wave_with(_members(comments))
        compute_results()
        response_id = db.session.scalar(
            select(Answer.response_id).where(Answer.value == comments[-1]).limit(1)
        )
    add_user(app, "analyst@council.example", Role.ANALYST)
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "analyst@council.example")
    page.wait_for_url(lambda url: "/auth/" not in url)  # signed in, on the role's start page

    page.goto(f"{live_server}/dashboard/outcomes/O2/members")
    assert page.locator("caption:has-text('Themes in comments')").count() == 1
    assert "% to " in page.locator("table:has(caption:has-text('Themes in comments'))").inner_text()
    audit_widths(page, output_dir, "outcome-themes", problems)

    page.goto(f"{live_server}/comments/waves/{wave_id}/M90/code/{response_id}")
    summaries = page.locator("details.govuk-details summary")
    assert summaries.count() >= 2
    for k in range(summaries.count()):
        summaries.nth(k).click()
    assert page.locator("details[open] pre").count() == summaries.count()
    audit_widths(page, output_dir, "coding-topics", problems)
    context.close()
    assert not problems, problems
