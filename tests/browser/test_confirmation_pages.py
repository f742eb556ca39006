"""The confirmation pages of destructive actions in a real browser: each is a page of its own
with a warning button (a plain form post: the HTTP tests show it needs no JavaScript), and
axe-core (WCAG 2.2 A/AA) finds no violation on any of them, nor on the publish page."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from instruments import load_definitions
from survey_app import clock
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Answer, InstrumentVersion, Invitation, Response, Role, Wave, WaveMode

from ..survey_app.helpers import add_user
from .accessibility import audit
from .conftest import sign_in

pytestmark = pytest.mark.browser


def _waves(app) -> tuple[int, int]:
    """An open invite wave and a closed one, both with contact details, and a response past
    the retention period."""
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
        )
        today = clock.today()
        live = Wave(
            label="2027-Q1",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=today - dt.timedelta(days=3),
            closes_on=today + dt.timedelta(days=20),
        )
        old = Wave(
            label="2018-Q1",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=dt.date(2018, 1, 1),
            closes_on=dt.date(2018, 2, 1),
        )
        db.session.add_all([live, old])
        db.session.flush()
        db.session.add_all(
            Invitation(wave_id=w.id, token_hash=f"{w.id}{i:063x}", email=f"m{i}@c.example")
            for w in (live, old)
            for i in range(3)
        )
        db.session.add(
            Response(
                wave_id=old.id,
                submitted_on=dt.date(2018, 1, 5),
                answers=[Answer(question_id="M01", value="4")],
            )
        )
        db.session.commit()
        return live.id, old.id


def test_confirmation_pages_are_accessible_and_do_what_they_say(
    app, live_server, chromium, output_dir
) -> None:
    live_id, old_id = _waves(app)
    add_user(app, "admin@council.example", Role.ADMIN)
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "admin@council.example")
    page.wait_for_url(f"{live_server}/dashboard/")  # staff land on the scorecard

    page.goto(f"{live_server}/programme/waves/{live_id}")
    page.click("a:has-text('Send invitations')")
    expect(page.locator("h1")).to_have_text("Send the invitation to 3 people?")
    audit(page, output_dir, "confirm-send-invitations", problems)
    page.click("a:has-text('Cancel')")
    page.wait_for_url(f"{live_server}/programme/waves/{live_id}")

    page.click("a:has-text('Send a reminder')")
    expect(page.locator("h1")).to_have_text("Send a reminder to 3 people?")
    audit(page, output_dir, "confirm-send-reminders", problems)

    page.goto(f"{live_server}/programme/waves/{live_id}")
    page.click("a:has-text('Close now')")
    expect(page.locator("h1")).to_have_text("Close wave 2027-Q1 at the end of today?")
    audit(page, output_dir, "confirm-close-now", problems)
    page.click("button.govuk-button--warning")
    page.wait_for_url(f"{live_server}/programme/waves/{live_id}")
    expect(page.locator("main")).to_contain_text("closes at the end of today")
    expect(page.locator("main")).to_contain_text("open until the end of today")

    page.goto(f"{live_server}/programme/waves/{old_id}")
    page.click("a:has-text('Remove contact details')")
    expect(page.locator("h1")).to_have_text("Remove the contact details of 3 invitations?")
    audit(page, output_dir, "confirm-remove-contacts", problems)
    page.click("button.govuk-button--warning")
    expect(page.locator("main")).to_contain_text("removed from 3 invitations")

    page.goto(f"{live_server}/admin/retention")
    page.click("a:has-text('Delete 1 responses')")
    expect(page.locator("h1")).to_have_text("Delete 1 responses past the retention period?")
    audit(page, output_dir, "confirm-retention-delete", problems)
    page.click("button.govuk-button--warning")
    expect(page.locator("main")).to_contain_text("1 responses from before")

    page.goto(f"{live_server}/programme/waves/{old_id}/publish")
    audit(page, output_dir, "publish-figures", problems)
    context.close()
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Response)) == 0
        assert db.session.get(Wave, live_id).closes_on == clock.today()
    assert problems == {}, problems
