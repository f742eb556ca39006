from __future__ import annotations

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import clock
from ..audit import record
from ..auth.roles import ANALYST_ROLES, SAFEGUARDING_ROLES, role_required
from ..extensions import db
from ..models import Answer, FlagStatus, InstrumentVersion, Response, SafeguardingFlag, User, Wave
from . import bp
from .forms import AgreementForm, CodingForm, FlagActionForm, SampleForm
from .queries import (
    DEFAULT_SAMPLE,
    agreement,
    coded_by,
    coders,
    coding_of,
    coding_sample,
    comment_counts,
    save_coding,
    suggested_themes,
    text_question,
    text_questions,
    theme_labels,
    topic_suggestions,
)

# --------------------------------------------------------------------------- safeguarding


@bp.get("/safeguarding")
@role_required(*SAFEGUARDING_ROLES)
def flags():
    """Open flags first (the reviewer's work), then what has been done."""
    found = db.session.scalars(
        select(SafeguardingFlag)
        .join(Response)
        .join(Wave)
        .order_by(
            SafeguardingFlag.status.desc(),
            Wave.closes_on.desc(),
            SafeguardingFlag.response_id,
            SafeguardingFlag.question_id,
        )
    ).all()
    open_flags = [f for f in found if f.status is FlagStatus.OPEN]
    done = [f for f in found if f.status is FlagStatus.ACTIONED]
    names = {u.id: u.name for u in db.session.scalars(select(User))}
    return render_template(
        "comments/flags.html",
        title="Safeguarding review",
        open_flags=open_flags,
        done=done,
        names=names,
        comment=_comment_of,
    )


def _comment_of(flag: SafeguardingFlag) -> tuple[Answer | None, str]:
    """The flagged answer and its question's wording."""
    answer = db.session.get(Answer, (flag.response_id, flag.question_id))
    question = text_question(flag.response.wave, flag.question_id)
    return answer, question.text if question else flag.question_id


@bp.route("/safeguarding/<response_id>/<question_id>", methods=["GET", "POST"])
@role_required(*SAFEGUARDING_ROLES)
def flag(response_id: str, question_id: str):
    found = db.session.get(SafeguardingFlag, (response_id, question_id)) or abort(404)
    form = FlagActionForm()
    if found.status is FlagStatus.OPEN and form.validate_on_submit():
        found.status = FlagStatus.ACTIONED
        found.action = form.action.data.strip()
        found.actioned_by_id = current_user.id
        found.actioned_on = clock.today()
        # The audit log times actions to the second, so it names the wave, never the response.
        record("safeguarding flag actioned", wave=found.response.wave_id, question=question_id)
        db.session.commit()
        flash(
            "The action has been recorded. The comment can now be coded and, if quotable, quoted.",
            "success",
        )
        return redirect(url_for("comments.flags"))
    answer, wording = _comment_of(found)
    actioned_by = db.session.get(User, found.actioned_by_id) if found.actioned_by_id else None
    return render_template(
        "comments/flag.html",
        title="Review a flagged comment",
        flag=found,
        form=form,
        answer=answer,
        wording=wording,
        actioned_by=actioned_by,
    ), 400 if form.errors else 200


# --------------------------------------------------------------------------- coding


@bp.get("/")
@role_required(*ANALYST_ROLES)
def index():
    """Every wave and text question with comments, with this coder's progress."""
    waves = db.session.scalars(
        select(Wave)
        .join(InstrumentVersion)
        .order_by(InstrumentVersion.instrument_id, Wave.opens_on.desc())
    ).all()
    rows = []
    for wave in waves:
        for question in text_questions(wave):
            total, withheld = comment_counts(wave, question.id)
            if total:
                rows.append(
                    (
                        wave,
                        question,
                        total,
                        withheld,
                        len(coded_by(wave, question.id, current_user.id)),
                    )
                )
    return render_template("comments/index.html", title="Code comments", rows=rows)


def _wave_question(wave_id: int, question_id: str):
    wave = db.session.get(Wave, wave_id) or abort(404)
    question = text_question(wave, question_id) or abort(404)
    return wave, question


def _sample_form() -> tuple[SampleForm, int]:
    """The sample size from ``?n=`` (the default without one; a bad one is a form error)."""
    if "n" not in request.args:
        return SampleForm(formdata=None), DEFAULT_SAMPLE
    form = SampleForm(formdata=request.args)
    return form, form.n.data if form.validate() else DEFAULT_SAMPLE


@bp.get("/waves/<int:wave_id>/<question_id>")
@role_required(*ANALYST_ROLES)
def sample(wave_id: int, question_id: str):
    wave, question = _wave_question(wave_id, question_id)
    form, size = _sample_form()
    comments = coding_sample(wave, question.id, size)
    mine = coded_by(wave, question.id, current_user.id)
    first = next((a for a in comments if a.response_id not in mine), None)
    return render_template(
        "comments/sample.html",
        title=f"Coding sample: {wave.instrument_version.title} {wave.label}",
        wave=wave,
        question=question,
        form=form,
        size=size,
        comments=comments,
        mine=mine,
        first=first,
        counts=comment_counts(wave, question.id),
    ), 200 if not form.errors else 400


@bp.route("/waves/<int:wave_id>/<question_id>/code/<response_id>", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def code(wave_id: int, question_id: str, response_id: str):
    """One comment of the sample. A coder sees only their own earlier coding, never another's."""
    wave, question = _wave_question(wave_id, question_id)
    _, size = _sample_form()
    comments = coding_sample(wave, question.id, size)
    position = next((i for i, a in enumerate(comments) if a.response_id == response_id), None)
    if position is None:  # not in the sample, or withheld by an open safeguarding flag
        abort(404)
    answer = comments[position]
    labels = theme_labels()
    form = CodingForm()
    form.themes.choices = list(labels.items())
    if form.validate_on_submit():
        save_coding(
            answer,
            current_user.id,
            [t for t in labels if t in set(form.themes.data or [])],
            bool(form.quotable.data),
        )
        db.session.commit()
        mine = coded_by(wave, question.id, current_user.id)
        following = next(
            (
                a
                for a in comments[position + 1 :] + comments[:position]
                if a.response_id not in mine
            ),
            None,
        )
        if following is None:
            flash("You have coded every comment in this sample.", "success")
            return redirect(
                url_for("comments.sample", wave_id=wave.id, question_id=question.id, n=size)
            )
        return redirect(
            url_for(
                "comments.code",
                wave_id=wave.id,
                question_id=question.id,
                response_id=following.response_id,
                n=size,
            )
        )
    if request.method == "GET":
        earlier = coding_of(answer, current_user.id)
        form.themes.data = earlier.themes if earlier else suggested_themes(answer.value)
        form.quotable.data = earlier.quotable if earlier else False
    return render_template(
        "comments/code.html",
        title="Code a comment",
        wave=wave,
        question=question,
        form=form,
        answer=answer,
        position=position + 1,
        total=len(comments),
        size=size,
        suggested=set(suggested_themes(answer.value)),
        topics=topic_suggestions(wave, question.id),
    ), 200 if not form.errors else 400


# --------------------------------------------------------------------------- agreement


def nan_reason(row) -> str | None:
    """Why kappa and alpha are undefined for a row, or None when they are defined."""
    if row.n_comments < 2:
        return "fewer than two comments were coded by both coders"
    return (
        "both coders made the same decision on every comment, so there is no variation to compare"
    )


@bp.get("/waves/<int:wave_id>/<question_id>/agreement")
@role_required(*ANALYST_ROLES)
def agreement_page(wave_id: int, question_id: str):
    wave, question = _wave_question(wave_id, question_id)
    available = coders(wave, question.id)
    form = AgreementForm(formdata=request.args if request.args else None)
    choices = [(user.id, f"{user.name} ({n} coded)") for user, n in available]
    form.coder_a.choices = choices
    form.coder_b.choices = choices
    if not request.args and len(choices) > 1:
        form.coder_b.data = choices[1][0]  # two different coders to start with
    table = None
    if request.args and form.validate():
        table = agreement(wave, question.id, form.coder_a.data, form.coder_b.data)
    labels = theme_labels() | {"overall": "All themes"}
    return render_template(
        "comments/agreement.html",
        title=f"Agreement: {wave.instrument_version.title} {wave.label}",
        wave=wave,
        question=question,
        form=form,
        coders=available,
        table=table,
        labels=labels,
        nan_reason=nan_reason,
        isnan=lambda x: x is None or math.isnan(x),
    ), 400 if form.errors else 200
