"""Staff pages in a real browser: an analyst signs in, creates a wave, uploads invitations,
sends them to a local SMTP server, a respondent follows the emailed link and answers, and
the response rate moves. axe-core (WCAG 2.2 A/AA) runs on every staff page type, error
states included, with a screenshot of each in ``test-output/browser/``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect

from instruments import load_definitions
from survey_app import clock
from survey_app.demo import seed_demo
from survey_app.models import Role
from survey_app.results import compute_results

from ..conftest import make_app
from ..survey_app.helpers import PASSWORD, add_user, age_jobs, bodies
from .accessibility import audit
from .conftest import serve, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def mail_server(tmp_path, smtp) -> Iterator[tuple[str, object]]:
    """The demo council served on loopback, sending e-mail to a local SMTP server."""
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'staff.db'}", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port
    )
    with app.app_context():
        upgrade()
        seed_demo(load_definitions(), seed=3)
        compute_results()
    add_user(app, "analyst@council.example", Role.ADMIN)
    with serve(app) as base:
        yield base, mailbox


def _fill_date(page, name: str, day: dt.date) -> None:
    page.fill(f"#{name}-day", str(day.day))
    page.fill(f"#{name}-month", str(day.month))
    page.fill(f"#{name}-year", str(day.year))


def test_wave_invitations_and_response_rate_end_to_end(mail_server, chromium, output_dir) -> None:
    base, mailbox = mail_server
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()

    page.goto(f"{base}/staff/")
    assert "/auth/sign-in" in page.url
    audit(page, output_dir, "staff-sign-in", problems)
    page.fill("#email", "analyst@council.example")
    page.fill("#password", "wrong password")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".govuk-error-summary")).to_be_visible()  # waits for the new page
    audit(page, output_dir, "staff-sign-in-error", problems)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/staff/")  # back to the page asked for (?next=), not the landing
    audit(page, output_dir, "staff-overview", problems)

    page.click("text=Create a wave")
    page.click("button:has-text('Save wave')")  # empty: every error in the summary
    page.locator(".govuk-error-summary").wait_for()
    assert page.locator(".govuk-error-summary__list li").count() >= 4
    audit(page, output_dir, "staff-wave-form-errors", problems)
    member_pulse = page.locator("#instrument_version option", has_text="Member pulse survey").first
    page.select_option("#instrument_version", value=member_pulse.get_attribute("value"))
    page.fill("#label", "2027-Q1")
    page.check("input[name=mode][value=invite]")
    today = clock.today()  # the app's day (Europe/London)
    _fill_date(page, "opens_on", today)
    _fill_date(page, "closes_on", today + dt.timedelta(days=21))
    page.fill("#audience_size", "4")
    page.click("button:has-text('Save wave')")
    page.wait_for_url(re.compile(r".*/programme/waves/\d+$"))
    wave_url = page.url

    page.set_input_files(
        "#file",
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"email\nnot-an-email\n"}],
    )
    page.click("button:has-text('Upload invitations')")
    assert "Row 2" in page.locator(".govuk-error-summary").inner_text()
    audit(page, output_dir, "staff-invitations-error", problems)
    page.goto(wave_url)
    contacts = (
        b"name,email\nAnn,ann@council.example\nBob,bob@council.example\nCat,cat@council.example\n"
    )
    page.set_input_files(
        "#file", files=[{"name": "members.csv", "mimeType": "text/csv", "buffer": contacts}]
    )
    page.click("button:has-text('Upload invitations')")  # the same address again: wait for text
    expect(page.locator("main")).to_contain_text("3 invitations added")
    page.click("a:has-text('Send invitations')")  # to its confirmation page
    expect(page.locator("h1")).to_have_text("Send the invitation to 3 people?")
    page.click("button:has-text('Send 3 e-mails')")
    expect(page.locator("main")).to_contain_text("3 invitations sent")
    assert "fewer than 10 answered" in page.content()  # a count below the minimum is never shown
    audit(page, output_dir, "staff-wave", problems)
    assert len(mailbox.messages) == 3

    link = re.search(r"http://\S+/i/\S+", bodies(mailbox)[0]).group(0)
    respondent = chromium.new_context(viewport={"width": 390, "height": 800}).new_page()
    respondent.goto(link)
    assert "/i/" not in respondent.url  # the token left the address at once
    respondent.click("text=Start now")
    respondent.wait_for_url(re.compile(r".*/s/[^/]+/1$"))
    while "/check" not in respondent.url:
        for group in respondent.locator(".govuk-radios").all():
            group.locator("input[type=radio]").nth(3).check()
        before = respondent.url
        respondent.click("button:has-text('Continue')")
        respondent.wait_for_url(lambda url, before=before: url != before)
    respondent.click("button:has-text('Send my answers')")
    respondent.wait_for_url("**/done")
    respondent.context.close()

    page.goto(wave_url)
    assert "fewer than 10 answered" in page.content() and "1 answered" not in page.content()

    for name, path in [
        ("staff-exports", "/staff/exports"),
        ("staff-users", "/admin/users"),
        ("staff-user-form", "/admin/users/new"),
        ("staff-user-edit", "/admin/users/1"),
        ("staff-audit", "/admin/audit"),
        ("staff-instruments", "/admin/instruments"),
        ("staff-wave-days", "/staff/waves/1"),
        ("staff-change-password", "/auth/password"),
        ("staff-measures", "/programme/measures"),
        ("staff-target", "/programme/measures/O9-divested"),
        ("staff-retention", "/admin/retention"),
        ("staff-return-form", "/programme/waves/1/returns/new"),
        ("staff-wave-edit", "/programme/waves/1/edit"),
        ("staff-scorecard", "/dashboard/"),
        ("staff-outcome", "/dashboard/outcomes/O12/residents"),
        ("staff-indices", "/dashboard/indices"),
    ]:
        page.goto(f"{base}{path}")
        audit(page, output_dir, name, problems)
    page.goto(f"{base}/programme/measures")
    page.fill("#period", "Q4")
    page.click("button:has-text('Record value')")
    page.locator(".govuk-error-summary").wait_for()  # audit the error page, not the last one
    audit(page, output_dir, "staff-measures-error", problems)
    context.close()
    assert problems == {}, problems


def test_comment_pages_are_accessible(mail_server, chromium, output_dir) -> None:
    """The safeguarding queue, a flag's review form (with its error), the coding list, a
    sample (and a bad sample size), the coding screen and the agreement table."""
    base, _ = mail_server
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    sign_in(page, base, "analyst@council.example")  # an admin: reviewer and coder both
    page.wait_for_url(f"{base}/dashboard/")  # signed-in staff land on the scorecard

    page.goto(f"{base}/comments/safeguarding")
    audit(page, output_dir, "comments-safeguarding-queue", problems)
    page.click("a:has-text('Record what was done') >> nth=0")
    page.click("button:has-text('Record action')")  # empty: the action is required
    assert "Enter what was done" in page.locator(".govuk-error-summary").inner_text()
    audit(page, output_dir, "comments-flag-error", problems)

    page.goto(f"{base}/comments/")
    audit(page, output_dir, "comments-index", problems)
    page.click("a[href*='/comments/waves/'][href$='/M90'] >> nth=0")
    audit(page, output_dir, "comments-sample", problems)
    sample_url = page.url
    page.click("a.govuk-button:has-text('coding')")
    audit(page, output_dir, "comments-code", problems)
    page.goto(f"{sample_url}?n=0")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    audit(page, output_dir, "comments-sample-error", problems)

    page.goto(f"{base}/comments/")
    row = page.locator("tr", has_text="Member pulse survey").filter(has_text="2026-Q3")
    row.locator("a:has-text('Agreement')").click()
    page.select_option("#coder_b", index=1)
    page.click("button:has-text('Compare')")
    expect(page.locator("table", has_text="Cohen's kappa")).to_be_visible()  # waits for the result
    audit(page, output_dir, "comments-agreement", problems)
    context.close()
    assert problems == {}, problems


def test_the_scorecard_while_results_are_recomputed_and_after_a_failure(
    tmp_path, chromium, output_dir
) -> None:
    """The button queues a job in Redis with no worker running: the page says it is waiting,
    then, past the jobs timeout, that it failed and why; both states pass axe."""
    import secrets

    from redis import Redis

    queue = f"pulse-test-{secrets.token_hex(4)}"
    app = make_app(
        f"sqlite:///{tmp_path / 'jobs.db'}",
        JOBS_BACKEND="rq",
        JOBS_REDIS_URL="redis://127.0.0.1:6379/0",
        JOBS_QUEUE=queue,
        JOBS_TIMEOUT_SECONDS=600,
    )
    with app.app_context():
        upgrade()
        seed_demo(load_definitions(), seed=3)
    add_user(app, "analyst@council.example", Role.ANALYST)
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    with serve(app) as base:
        try:
            sign_in(page, base, "analyst@council.example")
            page.wait_for_url(f"{base}/dashboard/")  # signed-in staff land on the scorecard
            page.goto(f"{base}/dashboard/")
            expect(
                page.locator(".govuk-inset-text", has_text="No results have been computed yet")
            ).to_be_visible()
            page.click("button:has-text('Recompute the results now')")
            status = page.locator("#recompute-status")
            expect(status).to_contain_text("The results are being recomputed")
            expect(status).to_contain_text("waiting to start")
            assert page.locator("button:has-text('Recompute')").count() == 0
            audit(page, output_dir, "scorecard-recomputing", problems)
            age_jobs(app, 601)  # ten minutes pass, and no worker ran it
            page.click("a:has-text('Refresh this page')")
            expect(status).to_contain_text("failed: did not finish within")
            expect(page.locator("button:has-text('Try the recomputation again')")).to_be_visible()
            audit(page, output_dir, "scorecard-recompute-failed", problems)
        finally:
            context.close()
            redis = Redis.from_url("redis://127.0.0.1:6379/0")
            for key in redis.scan_iter(f"*{queue}*"):
                redis.delete(key)
    assert problems == {}, problems
