"""Retention: responses older than the retention period are deleted by an admin action."""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, render_template, url_for
from sqlalchemy import delete, func, select

from .. import clock
from ..audit import record
from ..auth.roles import role_required
from ..extensions import db
from ..models import Answer, Response, Role
from . import bp
from .forms import ActionForm


def cutoff(today: dt.date | None = None) -> dt.date:
    """Responses submitted before this day are past the retention period."""
    today = today or clock.today()
    years = int(current_app.config["RETENTION_YEARS"])
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _expired():
    return select(Response.id).where(Response.submitted_on < cutoff())


@bp.route("/retention", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def retention():
    form = ActionForm()
    if form.validate_on_submit():
        expired = db.session.scalar(select(func.count()).select_from(_expired().subquery()))
        db.session.execute(delete(Answer).where(Answer.response_id.in_(_expired()))
                           .execution_options(synchronize_session=False))
        db.session.execute(delete(Response).where(Response.submitted_on < cutoff())
                           .execution_options(synchronize_session=False))
        record("responses past retention deleted", count=expired, before=cutoff().isoformat())
        db.session.commit()
        flash(f"{expired:,} responses from before {cutoff():%-d %B %Y} have been deleted.", "success")
        return redirect(url_for("admin.retention"))
    expired = db.session.scalar(select(func.count()).select_from(_expired().subquery()))
    return render_template("admin/retention.html", title="Retention", form=form, expired=expired,
                           cutoff=cutoff(), years=current_app.config["RETENTION_YEARS"])
