"""Retention: responses older than the retention period are deleted by an admin action."""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, func, select

from .. import clock
from ..audit import record
from ..auth.roles import role_required
from ..confirmation import Confirmation, confirmation_page
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


def _expired_count() -> int:
    return db.session.scalar(select(func.count()).select_from(_expired().subquery())) or 0


@bp.get("/retention")
@role_required(Role.ADMIN)
def retention():
    return render_template(
        "admin/retention.html",
        title="Retention",
        expired=_expired_count(),
        cutoff=cutoff(),
        years=current_app.config["RETENTION_YEARS"],
    )


@bp.route("/retention/delete", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def delete_expired():
    """GET: the confirmation page; POST (from it): delete every response past the period."""
    form = ActionForm()
    expired = _expired_count()
    if not expired:
        flash("No responses are past the retention period.", "info")
        return redirect(url_for("admin.retention"))
    if request.method == "POST":
        form.validate_on_submit() or abort(400)
        db.session.execute(
            delete(Answer)
            .where(Answer.response_id.in_(_expired()))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(Response)
            .where(Response.submitted_on < cutoff())
            .execution_options(synchronize_session=False)
        )
        record("responses past retention deleted", count=expired, before=cutoff().isoformat())
        db.session.commit()
        flash(
            f"{expired:,} responses from before {cutoff():%-d %B %Y} have been deleted.", "success"
        )
        return redirect(url_for("admin.retention"))
    return confirmation_page(
        Confirmation(
            caption="Retention",
            heading=f"Delete {expired:,} responses past the retention period?",
            consequences=[
                (
                    f"{expired:,} responses submitted before {cutoff():%-d %B %Y}, and every answer "
                    "in them, are deleted."
                ),
                (
                    "Results computed afterwards leave them out; figures already published stay "
                    "until they are re-published."
                ),
                "The deletion is recorded in the audit log.",
            ],
            warning="This cannot be undone: the responses cannot be restored from the app.",
            button=f"Delete {expired:,} responses",
            action=url_for("admin.delete_expired"),
            cancel=url_for("admin.retention"),
        ),
        form,
    )
