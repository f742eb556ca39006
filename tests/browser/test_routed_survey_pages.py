"""A survey with every new question type (multi, number, grid, routing) answered keyboard-only
at 320 CSS px in a right-to-left translation, with axe-core at 320 and 1280 px on each page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Answer

from ..survey_app.survey_helpers import make_wave, release_all
from .accessibility import axe_violations, tab_to

pytestmark = pytest.mark.browser


def _axe_at_both_widths(page, output_dir, name: str, problems: dict[str, list[str]]) -> None:
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(output_dir / f"routed-{name}-{width}px.png"), full_page=True)
        found = axe_violations(page)
        if found:
            problems[f"{name} at {width}px"] = found
        if width == 320:
            overflow = page.evaluate("() => document.documentElement.scrollWidth")
            assert overflow <= 320, f"{name}: {overflow}px wide at 320px"


def test_routed_survey_in_urdu_completes_keyboard_only_at_320px(
    app, live_server, page, output_dir
) -> None:
    with app.app_context():
        slug = make_wave("resident-services").slug
    problems: dict[str, list[str]] = {}
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"{live_server}/s/{slug}?lang=ur")  # a poster's link in Urdu
    assert page.locator("main").get_attribute("dir") == "rtl"
    assert page.locator("main").get_attribute("lang") == "ur"
    _axe_at_both_widths(page, output_dir, "start", problems)
    tab_to(page, "a.govuk-button--start")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/1")
    _axe_at_both_widths(page, output_dir, "multi-and-number", problems)
    tab_to(page, "input[type=checkbox][value='1']")  # the library
    page.keyboard.press("Space")
    tab_to(page, "input[name=V02]")
    page.keyboard.type("lots")
    tab_to(page, "button.govuk-button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector(".govuk-error-summary")
    _axe_at_both_widths(page, output_dir, "number-error", problems)
    tab_to(page, "input[name=V02]")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/2")  # the library page: asked, because it was ticked
    _axe_at_both_widths(page, output_dir, "routed-page", problems)
    tab_to(page, "input[name=V10]")
    page.keyboard.press("ArrowDown")  # the second satisfaction label
    tab_to(page, "input[name=V11]")
    page.keyboard.press("Space")
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/4")  # waste and recycling was not ticked: skipped
    _axe_at_both_widths(page, output_dir, "grid", problems)
    for statement in ("V31", "V32", "V33"):
        tab_to(page, f"input[name={statement}]")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
    tab_to(page, "textarea")
    page.keyboard.type("Longer opening hours")
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/5")
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/check")
    _axe_at_both_widths(page, output_dir, "check", problems)
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/done")
    assert not problems, problems
    assert release_all(app) == 1
    with app.app_context():
        values = dict(db.session.execute(select(Answer.question_id, Answer.value)).all())
    assert values["V01"] == "1" and values["V02"] == "3"
    assert values["V10"] == "2" and values["V11"] == "Yes"
    assert values["V20"] == "na"  # not asked
    assert values["V31"] == values["V32"] == values["V33"] == "3"
    assert values["V90"] == "Longer opening hours"
