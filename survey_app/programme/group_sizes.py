"""Group sizes per audience (the staff establishment, or any audience's sizes per attribute
value), uploaded by analysts as CSV, all or nothing, for the "who responded" tables."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from instruments import AUDIENCES

from ..audit import record
from ..auth.roles import ANALYST_ROLES, role_required
from ..extensions import db
from ..models import AnalysisResult, GroupSize, Wave
from ..publication import results_for_current_user
from ..who_responded import WhoResponded, check_sizes, store_sizes, who_responded_for_wave
from . import bp
from .forms import GroupSizeUploadForm


def _form() -> GroupSizeUploadForm:
    form = GroupSizeUploadForm()
    form.audience.choices = [SelectChoice(a, a.capitalize()) for a in AUDIENCES]
    return form


def _page(form: GroupSizeUploadForm, problems: list[str], status: int = 200):
    sizes = db.session.scalars(
        select(GroupSize).order_by(GroupSize.audience, GroupSize.attribute, GroupSize.id)
    ).all()
    return render_template(
        "programme/group_sizes.html",
        title="Group sizes",
        form=form,
        problems=problems,
        sizes=sizes,
    ), status


@bp.get("/group-sizes")
@role_required(*ANALYST_ROLES)
def group_sizes():
    return _page(_form(), [])


@bp.post("/group-sizes")
@role_required(*ANALYST_ROLES)
def upload_group_sizes():
    form = _form()
    if not form.validate_on_submit():
        return _page(form, [], 400)
    audience = form.audience.data
    rows, problems = check_sizes(audience, form.file.data.read())
    if problems:
        return _page(form, problems, 400)
    stored = store_sizes(audience, rows, current_user.id)
    record(
        "group sizes uploaded",
        audience=audience,
        rows=stored,
        attributes=sorted({a for a, _, _ in rows}),
    )
    db.session.commit()
    flash(f"{stored} group sizes for {audience} saved.", "success")
    return redirect(url_for("programme.group_sizes"))


@bp.app_template_global()
def who_responded_for(wave: Wave, result: AnalysisResult | None = None) -> WhoResponded:
    """For ``programme/_who_responded.html`` (the results the user may read) and the report's
    ``reports/_who_responded.html`` (the report's ``result``)."""
    if result is None:
        result, stale = results_for_current_user()
        return who_responded_for_wave(wave, result, stale)
    return who_responded_for_wave(wave, result)
