"""Scheduled reminders (issue 18 section 3): reminder days per invite wave; ``flask survey
remind --due`` sends each once, on its London day, to unused invitations only, logged; the
wave page shows what was sent and what is due."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, update

from survey_app.extensions import db
from survey_app.models import Invitation, Role, WaveMode, WaveReminder
from survey_app.programme.invitations import Contact, add_invitations

from ..conftest import make_app
from .helpers import add_user, audit_actions, bodies, csrf, sign_in
from .survey_helpers import make_wave

OPENED = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)  # summer: London is an hour ahead


@pytest.fixture
def moment() -> list[dt.datetime]:
    return [OPENED]


def _app(tmp_path, moment, **config):
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", CLOCK=lambda: moment[0], **config)
    with app.app_context():
        upgrade()
        wave = make_wave("member-pulse", WaveMode.INVITE, opens=0, closes=20, label="2026-Q2")
        add_invitations(
            wave,
            [Contact(f"{n}@council.example", n.title()) for n in ("ann", "bob", "cat", "dan")],
        )
        db.session.commit()
        wave_id = wave.id
    return app, wave_id


def _use(app, email: str) -> None:
    """The invitation is marked used (as the release does)."""
    with app.app_context():
        db.session.execute(update(Invitation).where(Invitation.email == email).values(used=True))
        db.session.commit()


def _set_days(client, wave_id: int, days: str):
    return client.post(
        f"/programme/waves/{wave_id}/reminders",
        data={"csrf_token": csrf(client, f"/programme/waves/{wave_id}"), "days": days},
    )


def _remind(app):
    return app.test_cli_runner().invoke(args=["survey", "remind", "--due"])


def test_reminders_go_once_each_on_their_london_day_to_unused_invitations(
    tmp_path, smtp, moment
) -> None:
    controller, mailbox = smtp
    app, wave_id = _app(tmp_path, moment, MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    client = app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    assert sign_in(client, "analyst@council.example").status_code == 302

    _set_days(client, wave_id, "5, soon")
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "&#39;soon&#39; is not a number of days from 1 to 365" in page
    assert "No reminders are scheduled." in page
    assert _set_days(client, wave_id, "10, 5, 30").status_code == 302
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "Due on 6 June 2026" in page and "Due on 11 June 2026" in page
    assert "the wave closes before then" in page  # day 30 is after the closing date

    _use(app, "bob@council.example")
    moment[0] = dt.datetime(2026, 6, 5, 22, 30, tzinfo=dt.UTC)  # 23:30 on the 5th in London
    assert "No reminders are due." in _remind(app).output and not mailbox.messages
    moment[0] = dt.datetime(2026, 6, 5, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 6th in London
    run = _remind(app)
    assert run.exit_code == 0 and "day 5: 3 reminders sent." in run.output
    assert sorted(m.rcpt_tos[0] for m in mailbox.messages) == [
        "ann@council.example",
        "cat@council.example",
        "dan@council.example",
    ]
    assert all("If you have answered already, thank you" in b for b in bodies(mailbox))
    assert "No reminders are due." in _remind(app).output  # once each
    assert len(mailbox.messages) == 3

    _use(app, "ann@council.example")
    moment[0] = dt.datetime(2026, 6, 12, 8, 0, tzinfo=dt.UTC)
    assert "day 10: 2 reminders sent." in _remind(app).output
    assert sorted(m.rcpt_tos[0] for m in mailbox.messages[3:]) == [
        "cat@council.example",
        "dan@council.example",
    ]
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "Sent on 6 June 2026 to 3 people" in page and "Sent on 12 June 2026 to 2 people" in page
    assert audit_actions(app).count("scheduled reminder sent") == 2

    # a sent reminder stays when the days change; an unsent one goes
    _set_days(client, wave_id, "15")
    with app.app_context():
        kept = db.session.scalars(select(WaveReminder.days).order_by(WaveReminder.days)).all()
    assert kept == [5, 10, 15]


def test_a_reminder_is_claimed_before_it_is_sent_and_a_failure_is_shown(tmp_path, moment) -> None:
    app, wave_id = _app(tmp_path, moment)  # no MAIL_SERVER
    with app.app_context():
        db.session.add(WaveReminder(wave_id=wave_id, days=1))
        db.session.commit()
    moment[0] = OPENED + dt.timedelta(days=1)
    run = _remind(app)
    assert run.exit_code == 1 and "not sent: e-mail is not set up (MAIL_SERVER)" in run.output
    assert "No reminders are due." in _remind(app).output  # never retried on its own
    assert "scheduled reminder failed" in audit_actions(app)
    client = app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "Not sent</strong> on 2 June 2026: e-mail is not set up" in page


def test_only_invite_waves_that_are_open_get_reminders(tmp_path, moment) -> None:
    from survey_app.reminders import due_reminders

    app, wave_id = _app(tmp_path, moment)
    with app.app_context():
        db.session.add(WaveReminder(wave_id=wave_id, days=2))
        db.session.commit()
        assert due_reminders(dt.date(2026, 6, 2)) == []  # not its day yet
        assert len(due_reminders(dt.date(2026, 6, 3))) == 1
        assert due_reminders(dt.date(2026, 6, 30)) == []  # the wave has closed
