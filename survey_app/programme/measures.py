"""KPI values and the targets of measures.

The framework file gives each measure's starting baseline, target, date, direction and amber
margin; analysts change them here with a reason, and every change is kept (MeasureTarget).
KPI values are recorded per period with their source; a correction replaces the value and the
audit log keeps what it was.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from sqlalchemy import select
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from ..audit import record
from ..auth.roles import ANALYST_ROLES, role_required
from ..extensions import db
from ..models import KpiValue, MeasureTarget, User
from ..targets import current_target, measure_label, measures
from . import bp
from .forms import DayMonthYearField, NumberField


class KpiForm(FlaskForm):
    measure = SelectField(
        "KPI", widget=GovSelect(), validators=[InputRequired(message="Choose a KPI")]
    )
    period = StringField(
        "Period",
        widget=GovTextInput(),
        description="The quarter the value is for, like 2026-Q4.",
        validators=[
            InputRequired(message="Enter the period"),
            Regexp(
                r"^\d{4}-Q[1-4]$", message="Enter the period as a year and quarter, like 2026-Q4"
            ),
        ],
    )
    value = NumberField(
        "Value",
        validators=[
            InputRequired(message="Enter the value as a number"),
            NumberRange(min=-1e9, max=1e9, message="Enter a realistic number"),
        ],
    )
    source = StringField(
        "Source",
        widget=GovTextInput(),
        description="Where the figure comes from, e.g. the report it is in.",
        validators=[InputRequired(message="Enter the source of the figure"), Length(max=500)],
    )
    note = TextAreaField(
        "Note (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=2000)]
    )
    submit = SubmitField("Record value", widget=GovSubmitInput())


class TargetForm(FlaskForm):
    baseline = NumberField("Baseline", validators=[Optional()])
    target = NumberField("Target", validators=[Optional()])
    target_date = DayMonthYearField("Target date", validators=[Optional()])
    direction = RadioField(
        "Better is",
        widget=GovRadioInput(),
        choices=[SelectChoice("higher", "Higher"), SelectChoice("lower", "Lower")],
        validators=[InputRequired(message="Choose whether higher or lower is better")],
    )
    amber_margin = NumberField(
        "Amber margin",
        description="How far short of the target still counts as amber, in the measure's units.",
        validators=[
            InputRequired(message="Enter the amber margin"),
            NumberRange(min=0, message="The amber margin cannot be negative"),
        ],
    )
    reason = TextAreaField(
        "Why the change",
        widget=GovTextArea(),
        validators=[InputRequired(message="Say why the target is changing"), Length(max=2000)],
    )
    submit = SubmitField("Save the change", widget=GovSubmitInput())


def _kpi_choices() -> list[SelectChoice]:
    return [
        SelectChoice(mid, f"{oid}: {m.title}")
        for mid, (oid, m) in measures().items()
        if m.type == "kpi"
    ]


@bp.route("/measures", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def measure_list():
    form = KpiForm()
    form.measure.choices = _kpi_choices()
    known = measures()
    if form.validate_on_submit():
        _outcome, measure = known[form.measure.data]
        value = float(form.value.data)
        if measure.unit == "%" and not 0 <= value <= 100:
            form.value.errors = ["A percentage must be between 0 and 100"]
        else:
            existing = db.session.scalar(
                select(KpiValue).where(
                    KpiValue.measure_id == measure.id, KpiValue.period == form.period.data
                )
            )
            before = {"value": existing.value, "source": existing.source} if existing else None
            kpi = existing or KpiValue(measure_id=measure.id, period=form.period.data)
            kpi.value, kpi.source, kpi.note = (
                value,
                form.source.data.strip(),
                (form.note.data or "").strip() or None,
            )
            kpi.recorded_by_id, kpi.recorded_at = (
                current_user.id,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
            db.session.add(kpi)
            record(
                "KPI value corrected" if existing else "KPI value recorded",
                measure=measure.id,
                period=form.period.data,
                value=value,
                before=before,
            )
            db.session.commit()
            flash(
                f"{measure.title}: {value:g}{measure.unit if measure.unit == '%' else ' ' + measure.unit} "
                f"recorded for {form.period.data}.",
                "success",
            )
            return redirect(url_for("programme.measure_list"))
    values: dict[str, list[KpiValue]] = {}
    for kpi in db.session.scalars(select(KpiValue).order_by(KpiValue.period)):
        values.setdefault(kpi.measure_id, []).append(kpi)
    rows = [
        (oid, m, measure_label(m), current_target(m), values.get(mid, []))
        for mid, (oid, m) in known.items()
    ]
    return render_template(
        "programme/measures.html", title="Measures, targets and KPIs", rows=rows, form=form
    )


@bp.route("/measures/<measure_id>", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def measure_target(measure_id: str):
    known = measures()
    if measure_id not in known:
        abort(404)
    oid, measure = known[measure_id]
    now = current_target(measure)
    form = TargetForm(
        data={
            "baseline": now.baseline,
            "target": now.target,
            "target_date": now.target_date,
            "direction": now.direction,
            "amber_margin": now.amber_margin,
        }
    )
    if form.validate_on_submit():
        assert form.amber_margin.data is not None  # InputRequired, and the form validated
        change = MeasureTarget(
            measure_id=measure.id,
            baseline=None if form.baseline.data is None else float(form.baseline.data),
            target=None if form.target.data is None else float(form.target.data),
            target_date=form.target_date.data,
            direction=form.direction.data,
            amber_margin=float(form.amber_margin.data),
            reason=form.reason.data.strip(),
            changed_by_id=current_user.id,
        )
        db.session.add(change)
        record(
            "target changed",
            measure=measure.id,
            reason=change.reason,
            before={
                "baseline": now.baseline,
                "target": now.target,
                "target_date": now.target_date.isoformat() if now.target_date else None,
                "direction": now.direction,
                "amber_margin": now.amber_margin,
            },
            after={
                "baseline": change.baseline,
                "target": change.target,
                "target_date": change.target_date.isoformat() if change.target_date else None,
                "direction": change.direction,
                "amber_margin": change.amber_margin,
            },
        )
        db.session.commit()
        flash(f"The target of {measure.id} has been changed.", "success")
        return redirect(url_for("programme.measure_target", measure_id=measure.id))
    history = db.session.scalars(
        select(MeasureTarget)
        .where(MeasureTarget.measure_id == measure.id)
        .order_by(MeasureTarget.id.desc())
    ).all()
    names = {u.id: u.name for u in db.session.scalars(select(User))}
    return render_template(
        "programme/measure_target.html",
        title=f"Target of {measure.id}",
        form=form,
        measure=measure,
        label=measure_label(measure),
        outcome_id=oid,
        current=now,
        history=history,
        names=names,
    )
