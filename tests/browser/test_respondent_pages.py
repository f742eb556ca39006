"""Respondent pages in a real browser: keyboard-only completion, axe-core (WCAG 2.2 A/AA)
on every page type including error states, reflow at 320 CSS px, visible focus, and a
screenshot of each page type in ``test-output/browser/``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Answer, HeldSubmission, Invitation, Response
from survey_app.security import hash_token
from survey_app.survey.forms import pages_of
from survey_app.survey.store import release_held

from ..survey_app.survey_helpers import make_tokens, make_wave, release_all
from ..survey_app.test_survey_input import REQUIRED
from .accessibility import audit, axe_violations, check_reflow, focus_visible, tab_to  # noqa: F401

pytestmark = pytest.mark.browser


def test_roadshow_survey_is_completed_with_the_keyboard_only(app, live_server, page) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        code, slug = wave.events[0].code, wave.slug
    page.goto(f"{live_server}/e/{code}")
    assert page.url == f"{live_server}/s/{slug}"
    tab_to(page, "a.govuk-button--start")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/1")
    for _ in range(4):  # four agree/disagree questions: Tab into the group, arrow to choose
        tab_to(page, "input[type=radio]:not(:checked)")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
    tab_to(page, "textarea")
    page.keyboard.type("More roadshows in the evening, please.")
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/check")
    assert (
        page.locator(".govuk-summary-list__value").first.inner_text().strip()
        == "Neither agree nor disagree"
    )
    tab_to(page, "button.govuk-button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{slug}/done")
    assert "Answers sent" in page.locator("h1").inner_text()
    assert release_all(app) == 1  # web submissions reach `response` only when released
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1
        values = dict(db.session.execute(select(Answer.question_id, Answer.value)).all())
    assert values == {
        "R01": "3",
        "R02": "3",
        "R03": "3",
        "R04": "3",
        "R90": "More roadshows in the evening, please.",
    }


def test_every_respondent_page_passes_axe_and_reflows(app, live_server, page, output_dir) -> None:
    with app.app_context():
        resident = make_wave("resident-perception")
        members = make_wave("member-pulse")
        tiny = make_wave("tiny", instrument=REQUIRED, label="tiny")
        closed = make_wave("staff-pulse", opens=-40, closes=-10, label="2026-Q3")
        token, used = make_tokens(members, 2)
        r_slug, m_slug, t_slug, c_slug = resident.slug, members.slug, tiny.slug, closed.slug
    problems: dict[str, list[str]] = {}

    page.goto(f"{live_server}/s/{r_slug}")
    audit(page, output_dir, "start", problems)
    page.click("text=Start now")
    page.wait_for_url("**/1")
    audit(page, output_dir, "question-page", problems)
    # tamper with one radio's value, so the server refuses it: the error state
    page.evaluate(
        "() => { const r = document.querySelector('#P02'); r.value = '9'; r.checked = true; }"
    )
    page.click("button:has-text('Continue')")
    page.locator(".govuk-error-summary").wait_for()
    assert page.title().startswith("Error: ")
    # GOV.UK Frontend moves focus to the summary when its module script runs, which may be
    # after the summary is in the DOM: wait for the focus rather than racing the script.
    page.wait_for_function("() => document.activeElement.closest('.govuk-error-summary') !== null")
    audit(page, output_dir, "question-page-error", problems)
    page.click(".govuk-error-summary a")  # the summary link moves to the field
    assert page.evaluate("() => document.activeElement.id") in {
        "P02",
        "P02-fieldset",
    } or page.evaluate("() => document.activeElement.tagName") in {"INPUT", "LEGEND", "FIELDSET"}
    for question in ("P01", "P03-2", "P05-3"):
        page.check(f"#{question}")
    page.check("#P02-4")
    page.fill("#P90", "Fix the roads.")
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/2")
    audit(page, output_dir, "about-you-page", problems)
    page.check("#age_band-2")
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/check")
    audit(page, output_dir, "check-answers", problems)
    page.click("button:has-text('Send my answers')")
    page.wait_for_url(f"**/s/{r_slug}/done")
    audit(page, output_dir, "confirmation", problems)

    page.goto(f"{live_server}/s/{t_slug}/1")  # a required question left unanswered
    page.click("button:has-text('Continue')")
    page.locator(".govuk-error-summary").wait_for()
    assert page.locator(".govuk-error-message").count() == 2  # T01 and T90 are required
    audit(page, output_dir, "required-error", problems)
    page.goto(f"{live_server}/s/{t_slug}/check")
    page.click("button:has-text('Send my answers')")
    page.locator(".govuk-error-summary").wait_for()
    audit(page, output_dir, "check-answers-error", problems)
    # this browser sent its answers: the next person starts again on the same device
    page.goto(f"{live_server}/s/{r_slug}")
    audit(page, output_dir, "sent-already", problems)
    page.click("button:has-text('Start again for the next person')")
    page.wait_for_url(f"{live_server}/s/{r_slug}")
    # an expired form: the page comes back with the answers and a plain message
    page.goto(f"{live_server}/s/{r_slug}/1")
    page.check("#P01-2")
    page.evaluate("() => { document.querySelector('input[name=csrf_token]').value = 'expired'; }")
    page.click("button:has-text('Continue')")
    page.locator(".govuk-notification-banner").wait_for()
    assert "session timed out" in page.content() and page.is_checked("#P01-2")
    audit(page, output_dir, "expired-session", problems)

    page.goto(f"{live_server}/i/{token}")
    assert token not in page.url
    audit(page, output_dir, "invite-start", problems)
    with app.app_context():
        db.session.execute(
            Invitation.__table__.update()
            .where(Invitation.token_hash == hash_token(used))
            .values(used=True)
        )
        db.session.commit()
    page.goto(f"{live_server}/i/{used}")
    audit(page, output_dir, "link-used", problems)
    page.goto(f"{live_server}/i/not-a-token")
    audit(page, output_dir, "link-unknown", problems)
    page.goto(f"{live_server}/s/{c_slug}")
    audit(page, output_dir, "closed", problems)
    page.goto(f"{live_server}/s/{m_slug}")  # still holds the personal link
    assert "Member pulse survey" in page.locator("h1").inner_text()

    assert problems == {}, "\n".join(f"{name}: {v}" for name, vs in problems.items() for v in vs)
    # every web submission is held until a release: the one send here, and nothing else
    assert release_all(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 0


@pytest.mark.parametrize(
    "instrument_id",
    ["member-pulse", "partner-survey", "staff-pulse", "resident-perception", "staff-roadshow"],
)
def test_each_instrument_is_completed_in_the_browser(app, live_server, page, instrument_id) -> None:
    with app.app_context():
        wave = make_wave(instrument_id)
        slug, mode = wave.slug, wave.mode.value
        entry = {
            "invite": lambda: f"/i/{make_tokens(wave, 1)[0]}",
            "event": lambda: f"/e/{wave.events[0].code}",
            "open": lambda: f"/s/{slug}",
        }[mode]()
        pages = len(pages_of(wave.instrument_version.instrument))
    page.goto(f"{live_server}{entry}")
    assert page.url == f"{live_server}/s/{slug}"
    page.click("text=Start now")
    for number in range(1, pages + 1):
        page.wait_for_url(f"**/s/{slug}/{number}")
        if pages > 1:
            assert f"Page {number} of {pages}" in page.locator(".govuk-caption-l").inner_text()
        for group in page.locator(".govuk-radios").all():  # the last-but-one option of each
            group.locator("input[type=radio]").nth(-2).check()
        for box in page.locator("textarea").all():
            box.fill("Keep going.")
        page.click("button:has-text('Continue')")
    page.wait_for_url(f"**/s/{slug}/check")
    assert page.locator(".govuk-summary-list__value:has-text('Not answered')").count() == 0
    page.click("button:has-text('Send my answers')")
    page.wait_for_url(f"**/s/{slug}/done")
    with app.app_context():
        release_held(force=True)
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1
