"""Scheduled reminders: per invite wave, reminder days after opening (e.g. 5 and 10), sent by
``flask survey remind --due`` (for cron) to the invitations not used by then, each once.

Once each: a reminder is claimed by one conditional UPDATE (``sent_on`` from empty to today),
committed before any e-mail goes, so two cron runs (or two hosts) never both send it; if the
mail server then fails, the reminder stays claimed with its error shown on the wave page
(the wave page's "send a reminder" button can repeat it by hand).

Anonymity (issue 14): recipients are the invitations :func:`unused_with_contact` returns, as
for the reminder an analyst sends by hand: not marked used and with no submission held under
their link. Only the number sent is kept, never who; and the e-mail thanks anyone who has
answered already, since it cannot know (and must not suggest) who has.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from . import clock
from .audit import record
from .extensions import db
from .jobs import job_state, run_here
from .mail import MailNotConfigured, send
from .models import Wave, WaveMode, WaveReminder
from .programme.invitations import invitation_text, unused_with_contact


@dataclasses.dataclass(frozen=True)
class ReminderState:
    """One scheduled reminder as the wave page shows it."""

    days: int
    due_on: dt.date
    status: str  # sent | failed | due | scheduled | missed
    sent_on: dt.date | None
    sent_count: int | None
    error: str | None


def schedule(wave: Wave) -> list[ReminderState]:
    """The wave's reminders in order of their day, with how each stands today."""
    today = clock.today()
    rows = db.session.scalars(
        select(WaveReminder).where(WaveReminder.wave_id == wave.id).order_by(WaveReminder.days)
    )
    states = []
    for r in rows:
        due_on = wave.opens_on + dt.timedelta(days=r.days)
        if r.sent_on is not None:
            status = "failed" if r.error else "sent"
        elif due_on > wave.closes_on:
            status = "missed"  # after the wave closes: never sent
        elif due_on <= today:
            status = "missed" if today > wave.closes_on else "due"
        else:
            status = "scheduled"
        states.append(ReminderState(r.days, due_on, status, r.sent_on, r.sent_count, r.error))
    return states


def set_days(wave: Wave, days: list[int]) -> None:
    """Make ``days`` the wave's reminder days (the caller commits). Reminders already sent
    stay, as a record of what was sent."""
    sent = set(
        db.session.scalars(
            select(WaveReminder.days).where(
                WaveReminder.wave_id == wave.id, WaveReminder.sent_on.is_not(None)
            )
        )
    )
    db.session.execute(
        delete(WaveReminder).where(
            WaveReminder.wave_id == wave.id,
            WaveReminder.sent_on.is_(None),
            WaveReminder.days.not_in(days),
        )
    )
    have = set(db.session.scalars(select(WaveReminder.days).where(WaveReminder.wave_id == wave.id)))
    db.session.add_all(WaveReminder(wave_id=wave.id, days=d) for d in days if d not in have)
    record("reminder days set", wave=wave.id, days=days, already_sent=sorted(sent))


def due_reminders(today: dt.date | None = None) -> list[WaveReminder]:
    """Reminders not yet sent whose day has come, of invite waves open today."""
    today = today or clock.today()
    candidates = db.session.scalars(
        select(WaveReminder)
        .join(Wave)
        .where(
            WaveReminder.sent_on.is_(None),
            Wave.mode == WaveMode.INVITE,
            Wave.opens_on <= today,
            Wave.closes_on >= today,
        )
        .order_by(WaveReminder.wave_id, WaveReminder.days)
    )
    return [r for r in candidates if r.wave.opens_on + dt.timedelta(days=r.days) <= today]


def send_reminder(reminder_id: int) -> None:
    """The job that sends one reminder, at most once (see the module's docstring)."""
    today = clock.today()
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(WaveReminder)
            .where(WaveReminder.id == reminder_id, WaveReminder.sent_on.is_(None))
            .values(sent_on=today)
        ),
    )
    db.session.commit()
    if not claimed.rowcount:
        return  # sent already, by another run
    reminder = db.session.get(WaveReminder, reminder_id)
    assert reminder is not None
    wave = reminder.wave
    title = wave.instrument_version.title
    messages = [
        (i.email, f"Reminder: {title}", invitation_text(i, title, wave, reminder=True))
        for i in unused_with_contact(wave)
        if i.email is not None
    ]
    try:
        reminder.sent_count = send(messages)
    except (MailNotConfigured, OSError) as exc:
        reminder.sent_count = 0
        reminder.error = (
            "e-mail is not set up (MAIL_SERVER)"
            if isinstance(exc, MailNotConfigured)
            else f"the e-mail server could not be reached ({type(exc).__name__})"
        )
    record(
        "scheduled reminder failed" if reminder.error else "scheduled reminder sent",
        wave=wave.id,
        days=reminder.days,
        count=reminder.sent_count,
        error=reminder.error,
    )
    db.session.commit()


def send_due(today: dt.date | None = None) -> list[WaveReminder]:
    """Send every due reminder, each as a job run here (the command has no request to keep
    short); returns them, refreshed."""
    due = due_reminders(today)
    ids = [r.id for r in due]
    for reminder_id in ids:
        state = job_state(run_here(send_reminder, reminder_id, key=f"reminder:{reminder_id}"))
        if state is not None and state.status == "failed":
            db.session.rollback()
    db.session.expire_all()  # the jobs ran in sessions of their own
    return [r for r in (db.session.get(WaveReminder, i) for i in ids) if r is not None]
