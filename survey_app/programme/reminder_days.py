"""A wave's reminder days: set on the wave page, sent by ``flask survey remind --due``."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for

from ..auth.roles import ANALYST_ROLES, role_required
from ..extensions import db
from ..models import Wave, WaveMode
from ..reminders import ReminderState, schedule, set_days
from . import bp
from .forms import ReminderDaysForm


@bp.post("/waves/<int:wave_id>/reminders")
@role_required(*ANALYST_ROLES)
def reminder_days(wave_id: int):
    wave = db.session.get(Wave, wave_id)
    if wave is None or wave.mode is not WaveMode.INVITE:
        abort(404)
    form = ReminderDaysForm()
    if not form.validate_on_submit():
        for error in form.days.errors or ["The form timed out: try again"]:
            flash(f"The reminder days were not saved: {error}", "info")
        return redirect(url_for("programme.wave", wave_id=wave.id) + "#reminders")
    set_days(wave, form.parsed)
    db.session.commit()
    days = ", ".join(str(d) for d in form.parsed) or "none"
    flash(f"Reminder days saved: {days}.", "success")
    return redirect(url_for("programme.wave", wave_id=wave.id) + "#reminders")


@bp.app_template_global()
def reminder_schedule(wave: Wave) -> list[ReminderState]:
    """For ``programme/_reminders.html``."""
    return schedule(wave)


@bp.app_template_global()
def reminder_days_form(wave: Wave) -> ReminderDaysForm:
    """For ``programme/_reminders.html``: the form, showing the days set."""
    form = ReminderDaysForm(formdata=None)
    form.days.data = ", ".join(str(r.days) for r in schedule(wave))
    return form
