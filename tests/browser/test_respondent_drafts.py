"""Answers in progress and sends in a real browser: several 10,000-character comments arrive
whole (what redaction leaves), Back after a send shows that it was sent and a kiosk takes
the next person on the same event, and an analyst who opens a personal link from the
mail-merge never sees the draft its respondent started. axe-core on every page changed."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, text

from survey_app.extensions import db
from survey_app.models import Response, Role
from survey_app.programme.invitations import Contact, add_invitations

from ..survey_app.helpers import add_user
from ..survey_app.survey_helpers import make_wave, release_all
from ..survey_app.test_survey_drafts import LONG, _long_comment
from .accessibility import audit
from .conftest import sign_in

pytestmark = pytest.mark.browser


def _problems_report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}: {v}" for name, vs in problems.items() for v in vs)


def test_several_long_comments_arrive_whole(app, live_server, page, output_dir) -> None:
    with app.app_context():
        slug = make_wave("long-comments", instrument=LONG, label="long").slug
    comments = {f"L9{i}": _long_comment(i) for i in range(3)}
    # one comment carries an e-mail address: that, and only that, is redacted
    comments["L91"] = comments["L91"][:9000] + " write to me at someone@example.org"
    expected = {**comments, "L91": comments["L91"].replace("someone@example.org", "[email]")}
    problems: dict[str, list[str]] = {}
    page.goto(f"{live_server}/s/{slug}/1")
    page.check("#L01-2")
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"**/s/{slug}/2")
    for field, comment in comments.items():
        page.fill(f"#{field}", comment)
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"**/s/{slug}/check")
    session = next(c for c in page.context.cookies() if c["name"] == "session")
    assert len(session["value"]) < 1200  # the answers are not in the cookie
    shown = page.locator(".govuk-summary-list__value").all_inner_texts()
    assert [s.strip() for s in shown[1:]] == list(expected.values())
    audit(page, output_dir, "long-comments-check", problems)
    page.click("button:has-text('Send my answers')")
    page.wait_for_url(f"**/s/{slug}/done")
    assert release_all(app) == 1  # web submissions reach `answer` only when released
    with app.app_context():
        stored = dict(
            db.session.execute(
                text("SELECT question_id, value FROM answer WHERE question_id LIKE 'L9%'")
            ).all()
        )
    assert stored == expected
    assert problems == {}, _problems_report(problems)


def test_back_after_a_send_shows_it_was_sent_and_a_kiosk_keeps_its_event(
    app, live_server, page, output_dir
) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        slug, code, event_id, place = (
            wave.slug,
            wave.events[0].code,
            wave.events[0].id,
            wave.events[0].place,
        )
    problems: dict[str, list[str]] = {}
    page.goto(f"{live_server}/e/{code}")
    page.click("text=Start now")
    page.wait_for_url(f"**/s/{slug}/1")
    page.click("button:has-text('Continue')")  # nothing answered
    page.wait_for_url(f"**/s/{slug}/check")
    page.click("button:has-text('Send my answers')")
    page.locator(".govuk-error-summary").wait_for()
    assert (
        "You have not answered any questions" in page.locator(".govuk-error-summary").inner_text()
    )
    audit(page, output_dir, "nothing-answered", problems)
    page.click(".govuk-error-summary a")  # back to the question
    page.wait_for_url(f"**/s/{slug}/1?change=1*")
    page.check("#R01-4")
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"**/s/{slug}/check")
    page.click("button:has-text('Send my answers')")
    page.wait_for_url(f"**/s/{slug}/done")
    page.go_back()
    assert "Your answers have been sent" in page.locator("h1").inner_text()
    assert page.locator("button:has-text('Send my answers')").count() == 0
    audit(page, output_dir, "sent-after-back", problems)
    page.reload()
    assert "Your answers have been sent" in page.locator("h1").inner_text()
    page.go_back()
    assert "Your answers have been sent" in page.locator("h1").inner_text()
    page.click("button:has-text('Start again for the next person')")
    page.wait_for_url(f"{live_server}/s/{slug}")
    assert place in page.locator("main").inner_text()
    page.click("text=Start now")
    page.wait_for_url(f"**/s/{slug}/1")
    assert page.locator("input[type=radio]:checked").count() == 0
    page.check("#R01-2")
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"**/s/{slug}/check")
    page.click("button:has-text('Send my answers')")
    page.wait_for_url(f"**/s/{slug}/done")
    audit(page, output_dir, "done-next-person", problems)
    assert release_all(app) == 2  # web submissions reach `response` only when released
    with app.app_context():
        assert db.session.scalars(select(Response.event_id)).all() == [event_id, event_id]
    assert problems == {}, _problems_report(problems)


def test_an_analyst_with_the_mail_merge_never_sees_a_draft(
    app, live_server, chromium, output_dir
) -> None:
    with app.app_context():
        wave = make_wave("member-pulse")
        add_invitations(wave, [Contact("cllr.d@council.example", "Cllr D")])
        db.session.commit()
        wave_id, slug = wave.id, wave.slug
    add_user(app, "analyst@council.example", Role.ANALYST)
    problems: dict[str, list[str]] = {}
    analyst = chromium.new_context(viewport={"width": 1024, "height": 800}).new_page()
    sign_in(analyst, live_server, "analyst@council.example")
    analyst.wait_for_url(f"{live_server}/dashboard/")  # staff land on the scorecard
    merge = analyst.context.request.get(f"{live_server}/programme/waves/{wave_id}/invitations.csv")
    (row,) = list(csv.DictReader(io.StringIO(merge.text())))
    link = live_server + "/" + row["link"].split("/", 3)[3]

    councillor = chromium.new_context(viewport={"width": 390, "height": 800}).new_page()
    councillor.goto(link)
    councillor.click("text=Start now")
    councillor.wait_for_url(f"**/s/{slug}/1")
    councillor.locator(".govuk-radios").first.locator("input[type=radio]").nth(1).check()
    councillor.click("button:has-text('Continue')")
    councillor.wait_for_url(f"**/s/{slug}/2")
    audit(councillor, output_dir, "invite-page-with-resume-link", problems)
    councillor.click("text=Email me a link to finish on another device")
    councillor.wait_for_url(f"**/s/{slug}/resume-link")
    audit(councillor, output_dir, "resume-link", problems)
    councillor.click("button:has-text('Send me the link')")  # no address typed
    councillor.locator(".govuk-error-summary").wait_for()
    assert "Enter your email address" in councillor.locator(".govuk-error-summary").inner_text()
    audit(councillor, output_dir, "resume-link-error", problems)

    analyst.goto(link)
    assert "Continue where you left off" not in analyst.content()
    assert analyst.locator("a:has-text('Start now')").count() == 1
    audit(analyst, output_dir, "invite-start-as-staff", problems)
    analyst.goto(f"{live_server}/s/{slug}/1")
    assert analyst.locator("input[type=radio]:checked").count() == 0
    analyst.goto(f"{live_server}/s/{slug}/check")
    assert (
        analyst.locator(".govuk-summary-list__value:has-text('Not answered')").count()
        == analyst.locator(".govuk-summary-list__value").count()
    )
    # the councillor's own browser still has it
    councillor.goto(f"{live_server}/s/{slug}")
    assert "Continue where you left off" in councillor.content()
    assert problems == {}, _problems_report(problems)
