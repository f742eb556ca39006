from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..action_plans import (
    DUE_SOON_DAYS,
    action_counts,
    has_published_actions,
    outcome_actions,
    reportable_figure,
    you_said_we_did_by_audience,
)
from ..audit import record
from ..auth.roles import ANALYST_ROLES, VIEWER_ROLES, role_required
from ..definitions import current_definitions
from ..extensions import db
from ..models import Action, ActionNote, ActionStatus, InstrumentVersion, Role, User, Wave
from . import bp
from .forms import ActionForm

NONE = SelectChoice("", "None")

# The fields of an action its audit entries record, before and after a change.
_AUDITED = (
    "title",
    "instrument_id",
    "heard_wave_id",
    "heard",
    "outcome_id",
    "measure_id",
    "theme_id",
    "cell",
    "planned",
    "owner_user_id",
    "owner_name",
    "due_on",
    "status",
    "dropped_reason",
    "evidence_url",
    "published",
)


def _snapshot(action: Action) -> dict[str, Any]:
    values = {name: getattr(action, name) for name in _AUDITED}
    values["due_on"] = action.due_on.isoformat() if action.due_on else None
    values["status"] = action.status.value if action.status else None
    return values


def _choices(form: ActionForm) -> None:
    """Every select's options, from the definitions and the database."""
    definitions = current_definitions()
    form.instrument.choices = [
        SelectChoice(i.id, f"{i.title} ({i.audience})")
        for i in sorted(definitions.instruments.values(), key=lambda i: i.title)
    ]
    waves = db.session.execute(
        select(Wave.id, Wave.label, InstrumentVersion.title)
        .join(InstrumentVersion)
        .order_by(InstrumentVersion.title, Wave.opens_on.desc())
    ).all()
    form.heard_wave.choices = [NONE] + [
        SelectChoice(str(w.id), f"{w.title}: {w.label}") for w in waves
    ]
    framework = definitions.framework
    form.outcome.choices = [NONE] + [
        SelectChoice(o.id, f"{o.id}: {o.title}") for o in framework.outcomes
    ]
    form.measure.choices = [NONE] + [
        SelectChoice(m.id, f"{o.id} · {m.id}: {m.title or m.level}")
        for o in framework.outcomes
        for m in o.measures
    ]
    themes = definitions.codebook.themes if definitions.codebook else []
    form.theme.choices = [NONE] + [SelectChoice(t.id, t.label) for t in themes]
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True), User.role != Role.SAFEGUARDING)
        .order_by(User.name)
    )
    form.owner_user.choices = [NONE] + [SelectChoice(str(u.id), u.name) for u in users]


def _consistent(form: ActionForm) -> bool:
    """Checks across fields that need the definitions or the database; errors go on the
    fields. True when the action can be stored."""
    framework = current_definitions().framework
    wave = db.session.get(Wave, form.heard_wave.data) if form.heard_wave.data else None
    if wave is not None and wave.instrument_id != form.instrument.data:
        form.heard_wave.errors = ["Choose a wave of the survey chosen above"]
    if form.measure.data and form.outcome.data:
        measures = [m.id for m in framework.outcome(form.outcome.data).measures]
        if form.measure.data not in measures:
            form.measure.errors = [f"Choose a measure of outcome {form.outcome.data}"]
    return not (form.heard_wave.errors or form.measure.errors)


def _apply(form: ActionForm, action: Action) -> None:
    instrument = current_definitions().instruments[form.instrument.data]
    action.title = form.title.data.strip()
    action.instrument_id = instrument.id
    action.audience = instrument.audience
    action.heard_wave_id = form.heard_wave.data
    action.heard = form.heard.data.strip()
    action.outcome_id = form.outcome.data or None
    action.measure_id = form.measure.data or None
    action.theme_id = form.theme.data or None
    action.cell = (form.cell.data or "").strip() or None
    action.planned = form.planned.data.strip()
    action.owner_user_id = form.owner_user.data
    action.owner_name = None if form.owner_user.data else form.owner_name.data.strip()
    assert form.due_on.data is not None  # InputRequired
    action.due_on = form.due_on.data
    action.status = ActionStatus(form.status.data)
    action.dropped_reason = (
        form.dropped_reason.data.strip() if action.status is ActionStatus.DROPPED else None
    )
    action.evidence_url = (form.evidence_url.data or "").strip() or None
    action.published = bool(form.published.data)


def _add_note(action: Action, text: str | None, changed_status: bool) -> ActionNote | None:
    """A progress note when one was written, or when the status changed (so the history
    shows every change of status)."""
    text = (text or "").strip()
    if not text and not changed_status:
        return None
    note = ActionNote(
        status=action.status, text=text or f"Status changed to {action.status.value}."
    )
    action.notes.append(note)
    return note


def _planned_from(args) -> dict[str, Any]:
    """First values for a new action from a link (a heatmap cell's "Plan an action"): the
    survey, its wave by label, the cell and what was heard. Values that name no survey or
    wave, or are too long for their field, are left out, so the link can only fill the
    form, never break it."""
    data: dict[str, Any] = {}
    definitions = current_definitions()
    instrument = args.get("instrument", "")
    if instrument not in definitions.instruments:
        return data
    data["instrument"] = instrument
    wave_id = db.session.scalar(
        select(Wave.id)
        .join(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == instrument, Wave.label == args.get("wave"))
    )
    if wave_id is not None:
        data["heard_wave"] = wave_id
    for name, longest in (("cell", 200), ("heard", 4000)):
        value = (args.get(name) or "").strip()
        if value and len(value) <= longest:
            data[name] = value
    return data


def _action(action_id: int) -> Action:
    action = db.session.get(Action, action_id)
    if action is None:
        abort(404)
    return action


def _form_page(form: ActionForm, title: str, action: Action | None = None):
    return render_template(
        "actions/form.html", title=title, form=form, action=action
    ), 400 if form.errors else 200


@bp.get("/actions/")
@role_required(*VIEWER_ROLES)
def index():
    actions = db.session.scalars(
        select(Action)
        .options(selectinload(Action.owner_user))
        .order_by(Action.status, Action.due_on, Action.id)
    ).all()
    instruments = current_definitions().instruments
    return render_template(
        "actions/index.html",
        title="Actions",
        actions=actions,
        titles={k: v.title for k, v in instruments.items()},
    )


@bp.route("/actions/new", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def new():
    form = ActionForm(data=_planned_from(request.args) if request.method == "GET" else None)
    _choices(form)
    if form.validate_on_submit() and _consistent(form):
        action = Action()
        _apply(form, action)
        _add_note(action, form.note.data, changed_status=False)
        db.session.add(action)
        db.session.flush()
        record("action created", action_id=action.id, after=_snapshot(action))
        db.session.commit()
        flash(f"Action “{action.title}” has been saved.", "success")
        return redirect(url_for("actions.detail", action_id=action.id))
    return _form_page(form, "Add an action")


@bp.get("/actions/<int:action_id>")
@role_required(*VIEWER_ROLES)
def detail(action_id: int):
    action = _action(action_id)
    definitions = current_definitions()
    instrument = definitions.instruments.get(action.instrument_id)
    theme = None
    if (
        action.theme_id
        and definitions.codebook
        and action.theme_id in definitions.codebook.theme_ids
    ):
        theme = definitions.codebook.theme(action.theme_id).label
    return render_template(
        "actions/detail.html",
        title=action.title,
        action=action,
        survey=instrument.title if instrument else action.instrument_id,
        theme=theme,
        figure=reportable_figure(action),
    )


@bp.route("/actions/<int:action_id>/edit", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def edit(action_id: int):
    action = _action(action_id)
    form = ActionForm(
        obj=action,
        instrument=action.instrument_id,
        heard_wave=action.heard_wave_id,
        outcome=action.outcome_id or "",
        measure=action.measure_id or "",
        theme=action.theme_id or "",
        owner_user=action.owner_user_id,
        status=action.status.value,
    )
    _choices(form)
    if form.validate_on_submit() and _consistent(form):
        before = _snapshot(action)
        _apply(form, action)
        note = _add_note(
            action, form.note.data, changed_status=before["status"] != action.status.value
        )
        after = _snapshot(action)
        changed = {k: after[k] for k in _AUDITED if before[k] != after[k]}
        if changed or note is not None:
            record(
                "action changed",
                action_id=action.id,
                before={k: before[k] for k in changed},
                after=changed,
                note=note.text if note is not None else None,
            )
            db.session.commit()
            flash(f"Action “{action.title}” has been updated.", "success")
        return redirect(url_for("actions.detail", action_id=action.id))
    if not form.is_submitted():
        form.note.data = ""
    return _form_page(form, f"Change action: {action.title}", action)


# --------------------------------------------------------------------------- partials


@bp.app_template_global()
def actions_for_outcome(outcome_id: str, audience: str | None = None) -> list[Action]:
    """For ``actions/_outcome_actions.html``."""
    return outcome_actions(outcome_id, audience)


@bp.app_template_global()
def outcome_action_counts():
    """For ``actions/_scorecard_counts.html``: counts per outcome id, read once per request
    (the partial is included once per outcome card)."""
    if "pulse_action_counts" not in g:
        g.pulse_action_counts = action_counts()
    return g.pulse_action_counts


@bp.app_template_global()
def you_said_link(instrument_id: str) -> str | None:
    """For ``actions/_you_said_link.html``: the survey's public page, when it has anything."""
    if not has_published_actions(instrument_id):
        return None
    return url_for("public.you_said_we_did", instrument_id=instrument_id)


@bp.app_template_global("you_said_we_did_by_audience")
def report_you_said_we_did():
    """For ``reports/_you_said_we_did.html``."""
    return you_said_we_did_by_audience()


@bp.app_template_global()
def due_soon_days() -> int:
    return DUE_SOON_DAYS
