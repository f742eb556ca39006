"""Paper and phone returns keyed in by analysts: one at a time through a form with every
question on one page, or a batch from CSV (validated whole; all or nothing)."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovRadioInput, GovSubmitInput
from wtforms import HiddenField, RadioField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from instruments import Instrument

from .. import clock
from ..audit import record
from ..auth.roles import ANALYST_ROLES, role_required
from ..extensions import db
from ..imports import (
    Importer,
    ImportRefused,
    new_form_key,
    register_importer,
    start_import,
)
from ..ingestion import NotSaved, Submission, store_returns, store_submission, validate
from ..models import Channel, Wave
from ..survey.forms import Page, check_answers, page_form
from ..uploads import CsvUploadError, read_csv_upload
from . import bp
from .forms import DayMonthYearField

CHANNELS = [
    SelectChoice(Channel.PAPER.value, "Paper questionnaire"),
    SelectChoice(Channel.PHONE.value, "Telephone interview"),
]
MAX_ROWS = 20_000


def _wave(wave_id: int) -> tuple[Wave, Instrument]:
    wave = db.session.get(Wave, wave_id) or abort(404)
    return wave, wave.instrument_version.instrument


def return_form(instrument: Instrument) -> type[FlaskForm]:
    """Every question and "about you" item on one page, plus how and when it arrived."""
    page = Page(
        number=1,
        heading=instrument.title,
        questions=tuple(instrument.questions),
        attributes=tuple(instrument.attributes),
    )
    base = page_form(instrument, page, submit_text="Save this return")

    def validate_received_on(form, field) -> None:  # noqa: ARG001 (WTForms' inline-validator signature)
        if field.data and field.data > clock.today():
            raise ValidationError("The date received cannot be in the future")

    return type(
        "ReturnForm",
        (base,),
        {
            "channel": RadioField(
                "How the return reached us",
                widget=GovRadioInput(),
                choices=CHANNELS,
                validators=[InputRequired(message="Choose paper or telephone")],
            ),
            "received_on": DayMonthYearField(
                "Date received", validators=[InputRequired(message="Enter the date received")]
            ),
            "validate_received_on": validate_received_on,
        },
    )


@bp.route("/waves/<int:wave_id>/returns/new", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def new_return(wave_id: int):
    wave, instrument = _wave(wave_id)
    form = return_form(instrument)()
    if form.validate_on_submit():
        answers = form.answers()
        problems = check_answers(instrument, answers)
        if not problems:
            try:
                store_submission(
                    wave,
                    instrument,
                    answers,
                    submission_key=secrets.token_urlsafe(16),
                    today=form.received_on.data,
                    channel=Channel(form.channel.data),
                )
            except NotSaved:
                flash("The return was not saved because of a database problem. Try again.", "info")
                return render_template(
                    "programme/return_form.html", title="Enter a return", form=form, wave=wave
                ), 503
            record("return entered", wave=wave.id, channel=form.channel.data)
            db.session.commit()
            flash("The return has been saved. Enter the next one below.", "success")
            return redirect(url_for("programme.new_return", wave_id=wave.id))
        for problem in problems:
            getattr(form, problem.field_id).errors = [problem.message]
    return render_template(
        "programme/return_form.html",
        title="Enter a return",
        form=form,
        wave=wave,
        upload=ReturnsUploadForm(),
    )


class ReturnsUploadForm(FlaskForm):
    file = FileField(
        "Typed-up returns (CSV)",
        widget=GovFileInput(),
        description="One row per return. Columns: question ids and 'about you' ids as in the "
        "export file, optionally 'channel' (paper or phone) and 'received_on' "
        "(YYYY-MM-DD).",
        validators=[
            FileRequired(message="Choose a CSV file"),
            FileAllowed(["csv"], message="The file must be a .csv file"),
        ],
    )
    import_key = HiddenField(default=new_form_key)
    submit = SubmitField("Import returns", widget=GovSubmitInput())


def parse_returns(data: bytes, instrument: Instrument) -> tuple[list[Submission], list[str]]:
    """Rows as validated, redacted submissions; every problem with its row number."""
    try:
        upload = read_csv_upload(data, MAX_ROWS)
    except CsvUploadError as exc:
        return [], [exc.problem]
    # a grid's statements are columns of their own; a multi answer is its ticked positions, "1,3"
    known = {q.id for q in instrument.answer_items} | {a.id for a in instrument.attributes}
    extra = [c for c in upload.headers if c not in known | {"channel", "received_on"}]
    if not upload.headers or not set(upload.headers) & known:
        return [], [
            (
                "The first row must be column names: the survey's question ids (e.g. "
                f"{', '.join(sorted(known)[:3])})"
            )
        ]
    if extra:
        return [], [f"Unknown column(s) {', '.join(extra)}: {instrument.id} has no such question"]
    rows, problems = [], []
    for number, row in upload.rows:
        answers = {k: (v or "").strip() for k, v in row.items() if k in known and (v or "").strip()}
        channel = (row.get("channel") or "paper").strip().lower()
        if channel not in (Channel.PAPER.value, Channel.PHONE.value):
            problems.append(f"Row {number}: channel must be paper or phone, not '{channel}'")
            continue
        try:
            received = (
                dt.date.fromisoformat(row["received_on"].strip())
                if (row.get("received_on") or "").strip()
                else clock.today()
            )
        except ValueError:
            problems.append(f"Row {number}: received_on must be a date like 2026-11-23")
            continue
        if received > clock.today():
            problems.append(f"Row {number}: received_on is in the future")
            continue
        found = check_answers(instrument, answers)
        if found:
            problems += [f"Row {number}, {p.field_id}: {p.message}" for p in found]
            continue
        questions, attributes = validate(instrument, answers)
        rows.append(Submission(questions, attributes, received, channel=Channel(channel)))
    if not rows and not problems:
        problems.append("The file has no returns under the column names")
    return rows, problems


def _check_returns(instrument: Instrument, data: bytes) -> list[Submission]:
    rows, problems = parse_returns(data, instrument)
    if problems:
        raise ImportRefused(problems)
    return rows


def _store_returns(wave: Wave, rows: list[Submission], user_id: int | None) -> int:
    """Add every checked return through the ingestion service, with its safeguarding flags
    (the caller commits)."""
    store_returns(wave.id, wave.instrument_version.instrument, rows)
    record("returns imported", user_id=user_id, wave=wave.id, count=len(rows))
    return len(rows)


register_importer(
    "returns",
    Importer(
        read=lambda wave: wave.instrument_version.instrument,
        check=_check_returns,
        store=_store_returns,
    ),
)


@bp.post("/waves/<int:wave_id>/returns/import")
@role_required(*ANALYST_ROLES)
def import_returns(wave_id: int):
    """Queue the file's import (once per form and file) and show how it went: at once when
    the job has already ended, else on the import's own page."""
    wave, instrument = _wave(wave_id)
    upload = ReturnsUploadForm()
    problems: list[str] = []
    if upload.validate_on_submit():
        state = start_import(
            "returns", wave, upload.file.data.read(), upload.import_key.data, current_user.id
        )
        if not state.done:
            return redirect(url_for("programme.upload_import", import_id=state.id))
        if state.status == "imported":
            already = "That file was already imported: " if state.repeated else ""
            flash(f"{already}{state.imported} returns imported.", "success")
            return redirect(url_for("programme.new_return", wave_id=wave.id))
        problems = state.problems or [state.failure]
        upload = ReturnsUploadForm(formdata=None)  # a new key: the corrected file is a new import
    return render_template(
        "programme/return_form.html",
        title="Enter a return",
        form=return_form(instrument)(),
        wave=wave,
        upload=upload,
        upload_problems=problems,
    ), 400
