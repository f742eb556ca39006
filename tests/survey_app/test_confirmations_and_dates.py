"""Destructive actions ask on a page of their own, and every date the app derives is a day in
Europe/London (issue 16 section 5). The server runs in UTC; the tests move the app's clock
across the changes to and from British Summer Time."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from instruments import load_definitions
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import (
    Answer,
    AuditEntry,
    InstrumentVersion,
    Invitation,
    Response,
    Role,
    Wave,
    WaveMode,
)

from ..conftest import make_app
from .helpers import add_user, audit_actions, csrf, sign_in
from .survey_helpers import answer_pages, full_answers, release_all, send

# 29 March 2026 01:00 UTC: clocks go forward. 23:30 UTC that evening is 00:30 on 30 March.
SPRING = dt.datetime(2026, 3, 29, 23, 30, tzinfo=dt.UTC)
# 25 October 2026 01:00 UTC: clocks go back. 00:30 UTC is 01:30 BST, still 25 October.
AUTUMN = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
LONDON_DAY = {SPRING: dt.date(2026, 3, 30), AUTUMN: dt.date(2026, 10, 25)}


def _wave(app, instrument_id: str, mode: WaveMode, opens: dt.date, closes: dt.date, **extra) -> int:
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == instrument_id)
        )
        wave = Wave(
            label=extra.pop("label", "2026-T1"),
            instrument_version=version,
            audience=version.audience,
            mode=mode,
            opens_on=opens,
            closes_on=closes,
            **extra,
        )
        db.session.add(wave)
        db.session.commit()
        return wave.id


def _analyst(app):
    client = app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    return client


def _is_confirmation(page: str, heading: str) -> None:
    assert f'<h1 class="govuk-heading-l">{heading}</h1>' in page
    assert 'class="govuk-button govuk-button--warning"' in page and "govuk-warning-text" in page
    assert 'name="csrf_token"' in page and "Cancel</a>" in page


@pytest.mark.parametrize("moment", [SPRING, AUTUMN], ids=["spring forward", "autumn back"])
def test_close_now_closes_at_the_end_of_the_london_day(app, moment) -> None:
    app.config["CLOCK"] = lambda: moment
    today = LONDON_DAY[moment]
    wave_id = _wave(
        app,
        "staff-pulse",
        WaveMode.OPEN,
        today - dt.timedelta(days=10),
        today + dt.timedelta(days=20),
    )
    client = _analyst(app)
    page = client.get(f"/programme/waves/{wave_id}/close-now").get_data(as_text=True)
    _is_confirmation(page, "Close wave 2026-T1 at the end of today?")
    assert (
        f"its last day becomes today, {today:%-d %B %Y}" in page
        and "Close the wave tonight" in page
    )
    with app.app_context():
        assert db.session.get(Wave, wave_id).closes_on == today + dt.timedelta(
            days=20
        )  # GET changes nothing
    assert (
        client.post(f"/programme/waves/{wave_id}/close-now", data={}).status_code == 400
    )  # no CSRF token
    done = client.post(
        f"/programme/waves/{wave_id}/close-now",
        data={"csrf_token": csrf(client, f"/programme/waves/{wave_id}/close-now")},
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/programme/waves/{wave_id}"
    with app.app_context():
        wave = db.session.get(Wave, wave_id)
        assert wave.closes_on == today and wave.is_open()  # open until midnight in London
        slug = wave.slug
    assert "open until the end of today" in client.get(f"/programme/waves/{wave_id}").get_data(
        as_text=True
    )
    assert "wave closed" in audit_actions(app)
    respondent = app.test_client()
    assert "Start now" in respondent.get(f"/s/{slug}").get_data(as_text=True)
    # an hour or two later it is tomorrow in London: closed
    app.config["CLOCK"] = lambda: moment + dt.timedelta(hours=23, minutes=45)
    assert "Start now" not in respondent.get(f"/s/{slug}").get_data(as_text=True)
    assert "Close now" not in client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)


def test_a_wave_opening_today_in_london_opens_and_answers_carry_the_london_day(app) -> None:
    app.config["CLOCK"] = lambda: SPRING  # 23:30 on 29 March in UTC, 00:30 on 30 March in London
    wave_id = _wave(app, "staff-pulse", WaveMode.OPEN, dt.date(2026, 3, 30), dt.date(2026, 4, 30))
    with app.app_context():
        wave = db.session.get(Wave, wave_id)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    respondent = app.test_client()
    assert "Start now" in respondent.get(f"/s/{slug}").get_data(as_text=True)
    check = answer_pages(respondent, slug, instrument, full_answers(instrument))
    assert send(respondent, slug, check).status_code in (302, 303)
    assert release_all(app) == 1  # held first, like every web submission
    with app.app_context():
        days = db.session.scalars(
            select(Response.submitted_on).where(Response.wave_id == wave_id)
        ).all()
        assert days == [dt.date(2026, 3, 30)]


def test_sending_invitations_and_reminders_asks_first(tmp_path, smtp) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'm.db'}", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port
    )
    with app.app_context():
        upgrade()
    app.config["CLOCK"] = lambda: AUTUMN
    wave_id = _wave(
        app, "member-pulse", WaveMode.INVITE, dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    )
    client = _analyst(app)
    upload = client.post(
        f"/programme/waves/{wave_id}/invitations",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf(client, f"/programme/waves/{wave_id}"),
            "file": (io.BytesIO(b"name,email\nAnn,ann@c.example\nBob,bob@c.example\n"), "m.csv"),
        },
    )
    assert upload.status_code == 302
    wave_page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert f'href="/programme/waves/{wave_id}/invitations/send"' in wave_page
    page = client.get(f"/programme/waves/{wave_id}/invitations/send").get_data(as_text=True)
    _is_confirmation(page, "Send the invitation to 2 people?")
    assert "E-mails cannot be recalled" in page and "Send 2 e-mails" in page
    assert mailbox.messages == []  # the confirmation page sent nothing
    token = csrf(client, f"/programme/waves/{wave_id}/invitations/send")
    sent = client.post(
        f"/programme/waves/{wave_id}/invitations/send",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "2 invitations sent" in sent.get_data(as_text=True) and len(mailbox.messages) == 2
    reminder = client.get(f"/programme/waves/{wave_id}/invitations/send?kind=reminder").get_data(
        as_text=True
    )
    _is_confirmation(reminder, "Send a reminder to 2 people?")
    assert 'name="kind" value="reminder"' in reminder
    client.post(
        f"/programme/waves/{wave_id}/invitations/send",
        data={"csrf_token": token, "kind": "reminder"},
    )
    assert len(mailbox.messages) == 4 and {"invitations sent", "reminders sent"} <= set(
        audit_actions(app)
    )


def test_removing_contact_details_asks_first(app) -> None:
    app.config["CLOCK"] = lambda: AUTUMN
    wave_id = _wave(
        app, "partner-survey", WaveMode.INVITE, dt.date(2026, 9, 1), dt.date(2026, 9, 30)
    )
    with app.app_context():
        db.session.add_all(
            Invitation(wave_id=wave_id, token_hash=f"{i:064x}", email=f"p{i}@p.example")
            for i in range(3)
        )
        db.session.commit()
    client = _analyst(app)
    assert f'href="/programme/waves/{wave_id}/invitations/purge"' in client.get(
        f"/programme/waves/{wave_id}"
    ).get_data(as_text=True)
    page = client.get(f"/programme/waves/{wave_id}/invitations/purge").get_data(as_text=True)
    _is_confirmation(page, "Remove the contact details of 3 invitations?")
    assert "cannot be restored" in page
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Invitation.email))) == 3
    client.post(
        f"/programme/waves/{wave_id}/invitations/purge",
        data={"csrf_token": csrf(client, f"/programme/waves/{wave_id}/invitations/purge")},
    )
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Invitation.email))) == 0
        assert db.session.scalar(select(db.func.count()).select_from(Invitation)) == 3


def test_contact_details_wait_until_the_last_london_day_is_over(app) -> None:
    app.config["CLOCK"] = lambda: AUTUMN  # 25 October in London
    wave_id = _wave(
        app, "partner-survey", WaveMode.INVITE, dt.date(2026, 9, 1), dt.date(2026, 10, 25)
    )
    client = _analyst(app)
    early = client.get(f"/programme/waves/{wave_id}/invitations/purge", follow_redirects=True)
    assert "once the wave has closed" in early.get_data(as_text=True)


def test_deleting_responses_past_retention_asks_first(app) -> None:
    app.config["CLOCK"] = lambda: AUTUMN
    wave_id = _wave(app, "member-pulse", WaveMode.OPEN, dt.date(2018, 1, 1), dt.date(2018, 2, 1))
    with app.app_context():
        for day in (dt.date(2018, 1, 5), dt.date(2026, 10, 1)):
            db.session.add(
                Response(
                    wave_id=wave_id,
                    submitted_on=day,
                    answers=[Answer(question_id="M01", value="4")],
                )
            )
        db.session.commit()
    client = app.test_client()
    add_user(app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    overview = client.get("/admin/retention").get_data(as_text=True)
    assert 'href="/admin/retention/delete"' in overview and '<form method="post"' not in overview
    page = client.get("/admin/retention/delete").get_data(as_text=True)
    _is_confirmation(page, "Delete 1 responses past the retention period?")
    assert re.search(r"submitted before 25 October 20\d\d", page) and "cannot be undone" in page
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Response)) == 2
    done = client.post(
        "/admin/retention/delete", data={"csrf_token": csrf(client, "/admin/retention/delete")}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/admin/retention"
    with app.app_context():
        assert db.session.scalars(select(Response.submitted_on)).all() == [dt.date(2026, 10, 1)]
        assert (
            db.session.scalar(
                select(AuditEntry).where(AuditEntry.action == "responses past retention deleted")
            ).detail["count"]
            == 1
        )
    # nothing left to delete: the confirmation page says so instead of offering a button
    assert "No responses are past" in client.get(
        "/admin/retention/delete", follow_redirects=True
    ).get_data(as_text=True)


def test_the_clock_refuses_a_naive_time(app) -> None:
    from survey_app import clock

    app.config["CLOCK"] = lambda: dt.datetime(2026, 3, 29, 23, 30)
    with app.app_context(), pytest.raises(ValueError, match="aware datetime"):
        clock.today()
