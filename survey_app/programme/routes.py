from __future__ import annotations

import io
import secrets

import pandas as pd
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from analysis import spreadsheet

from .. import clock
from ..audit import record
from ..auth.roles import ANALYST_ROLES, role_required
from ..confirmation import Confirmation, confirmation_page
from ..extensions import db
from ..imports import import_state, start_import
from ..links import public_url
from ..mail import MailNotConfigured, send
from ..models import Event, HeldSubmission, InstrumentVersion, Response, Wave, WaveMode
from ..publication import NotPublishable, current_publications, fresh_results, publish
from ..recompute import request_recompute
from ..response_counts import fieldwork_over, response_rate, wave_total
from ..survey.qr import qr_code
from ..survey.store import forget_wave
from . import bp
from .forms import ActionForm, EventForm, InvitationUploadForm, PublishForm, WaveForm
from .invitations import (
    counts,
    invitation_text,
    link_for,
    purge_contacts,
    unused_with_contact,
)


def _wave(wave_id: int, mode: WaveMode | None = None) -> Wave:
    """The wave, or 404 (also when the page is for another way in, e.g. events of an open wave)."""
    wave = db.session.get(Wave, wave_id)
    if wave is None or (mode is not None and wave.mode is not mode):
        abort(404)
    return wave


def _version_choices() -> list[SelectChoice]:
    versions = db.session.scalars(
        select(InstrumentVersion).order_by(
            InstrumentVersion.instrument_id, InstrumentVersion.id.desc()
        )
    ).all()
    return [
        SelectChoice(
            str(v.id),
            f"{v.title} ({v.audience}), version {v.short_version} loaded {v.loaded_at:%-d %b %Y}",
        )
        for v in versions
    ]


def _started(wave: Wave) -> bool:
    if clock.today() >= wave.opens_on:
        return True
    answered = db.session.scalar(
        select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
    )
    held = db.session.scalar(
        select(func.count()).select_from(HeldSubmission).where(HeldSubmission.wave_id == wave.id)
    )
    return bool(answered or held)


def _label_taken(version: InstrumentVersion, label: str, wave_id: int | None = None) -> bool:
    query = (
        select(Wave.id)
        .join(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == version.instrument_id, Wave.label == label)
    )
    if wave_id is not None:
        query = query.where(Wave.id != wave_id)
    return db.session.scalar(query) is not None


@bp.route("/waves/new", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def new_wave():
    form = WaveForm()
    form.instrument_version.choices = _version_choices()
    if form.validate_on_submit():
        version = db.session.get(InstrumentVersion, form.instrument_version.data)
        label = form.label.data.strip()
        if version is None:
            form.instrument_version.errors = ["Choose a survey"]
        elif _label_taken(version, label):
            form.label.errors = [f"{version.title} already has a wave called {label}"]
        else:
            wave = Wave(
                label=label,
                instrument_version=version,
                audience=version.audience,
                mode=WaveMode(form.mode.data),
                opens_on=form.opens_on.data,
                closes_on=form.closes_on.data,
                audience_size=form.audience_size.data,
            )
            db.session.add(wave)
            db.session.flush()
            record(
                "wave created",
                wave=wave.id,
                label=label,
                instrument=version.instrument_id,
                version=version.version,
                mode=wave.mode.value,
            )
            db.session.commit()
            flash(f"Wave {label} of {version.title} has been created.", "success")
            return redirect(url_for("programme.wave", wave_id=wave.id))
    return render_template("programme/wave_form.html", title="Create a wave", form=form)


@bp.get("/waves/<int:wave_id>")
@role_required(*ANALYST_ROLES)
def wave(wave_id: int):
    return _wave_page(_wave(wave_id), InvitationUploadForm())


def _wave_page(found: Wave, upload: InvitationUploadForm, problems: list[str] | None = None) -> str:
    """The wave page; its response count is the total received, as on the overview."""
    invited, _, contactable = counts(found)
    received = wave_total(found)
    return render_template(
        "programme/wave.html",
        title=f"Wave {found.label}",
        wave=found,
        started=_started(found),
        invited=invited,
        received=received,
        rate=response_rate(found, received),
        contactable=contactable,
        today=clock.today(),
        action=ActionForm(),
        upload=upload,
        upload_problems=problems or [],
        publication=current_publications().get(found.id),
    )


@bp.route("/waves/<int:wave_id>/publish", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def publish_figures(wave_id: int):
    """Publish the wave's figures from the latest (up-to-date) results, so viewers see them:
    before it closes, or again after late returns (with a reason, audited)."""
    found = _wave(wave_id)
    current = current_publications().get(found.id)
    form = PublishForm()
    try:
        result, problem = fresh_results(), None
    except NotPublishable as exc:
        result, problem = None, str(exc)
    if result is not None and form.validate_on_submit():
        reason = (form.reason.data or "").strip() or None
        if current is not None and reason is None:
            form.reason.errors = ["Say why the published figures are changing"]
        else:
            publish(found, result, reason=reason)
            db.session.commit()
            flash(
                f"The figures of wave {found.label} are published: viewers see them now.", "success"
            )
            return redirect(url_for("programme.wave", wave_id=found.id))
    return render_template(
        "programme/publish.html",
        title=f"Publish the figures of wave {found.label}",
        wave=found,
        form=form,
        current=current,
        problem=problem,
        live=not fieldwork_over(found),
    ), 200 if not form.errors else 400


@bp.route("/waves/<int:wave_id>/edit", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def edit_wave(wave_id: int):
    found = _wave(wave_id)
    form = WaveForm(
        obj=found, instrument_version=found.instrument_version_id, mode=found.mode.value
    )
    form.instrument_version.choices = _version_choices()
    if request.method == "POST" and form.validate():
        label = form.label.data.strip()
        version = db.session.get(InstrumentVersion, form.instrument_version.data)
        changing_version = version is not None and version.id != found.instrument_version_id
        if version is None:
            form.instrument_version.errors = ["Choose a survey"]
        elif changing_version and _started(found):
            form.instrument_version.errors = [
                (
                    "A wave that has started keeps its survey version, so every answer in it was "
                    "given to the same questions"
                )
            ]
        elif changing_version and version.instrument_id != found.instrument_id:
            form.instrument_version.errors = [
                "Choose a version of the same survey (create a new wave for another survey)"
            ]
        elif form.mode.data != found.mode.value and _started(found):
            form.mode.errors = ["A wave that has started keeps its way in"]
        elif _label_taken(version, label, found.id):
            form.label.errors = [f"{version.title} already has a wave called {label}"]
        else:
            before = {
                "label": found.label,
                "opens_on": found.opens_on.isoformat(),
                "closes_on": found.closes_on.isoformat(),
                "audience_size": found.audience_size,
                "version": found.instrument_version.version,
            }
            found.label, found.instrument_version = label, version
            found.mode = WaveMode(form.mode.data)
            # both InputRequired: form.validate() passed, so both are dates
            assert form.opens_on.data is not None and form.closes_on.data is not None
            found.opens_on, found.closes_on = form.opens_on.data, form.closes_on.data
            found.audience_size = form.audience_size.data
            record(
                "wave changed",
                wave=found.id,
                before=before,
                after={
                    "label": label,
                    "opens_on": found.opens_on.isoformat(),
                    "closes_on": found.closes_on.isoformat(),
                    "audience_size": found.audience_size,
                    "version": version.version,
                },
            )
            db.session.commit()
            forget_wave(found.slug)
            flash(f"Wave {label} has been updated.", "success")
            return redirect(url_for("programme.wave", wave_id=found.id))
    return render_template(
        "programme/wave_form.html", title=f"Change wave {found.label}", form=form, wave=found
    )


@bp.post("/waves/<int:wave_id>/open-now")
@role_required(*ANALYST_ROLES)
def open_now(wave_id: int):
    found = _wave(wave_id)
    ActionForm().validate_on_submit() or abort(400)
    today = clock.today()
    found.opens_on = min(found.opens_on, today)
    found.closes_on = max(found.closes_on, today)
    record("wave opened", wave=found.id, opens_on=found.opens_on.isoformat())
    db.session.commit()
    forget_wave(found.slug)
    flash(f"Wave {found.label} is open.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))


@bp.route("/waves/<int:wave_id>/close-now", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def close_now(wave_id: int):
    """GET: the confirmation page; POST (from it): the wave closes at the end of today in
    London, so nobody answering today is turned away and nothing closes "yesterday". Its
    held responses are released once it has closed (``survey release``), not now: a release
    while it is still open could be a batch of one."""
    found = _wave(wave_id)
    today = clock.today()
    if not found.is_open(today) or found.closes_on == today:
        flash(
            f"Wave {found.label} is not open."
            if not found.is_open(today)
            else f"Wave {found.label} already closes at the end of today.",
            "info",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    form = ActionForm()
    if request.method == "POST":
        form.validate_on_submit() or abort(400)
        found.closes_on = today
        record("wave closed", wave=found.id, closes_on=today.isoformat())
        db.session.commit()
        forget_wave(found.slug)
        # its closing date is part of what the results depend on: bring them up to date
        request_recompute(only_if_stale=True, requested_by=current_user.id)
        flash(
            f"Wave {found.label} closes at the end of today, {today:%-d %B %Y} (midnight, London "
            "time). The results are being recomputed in the background.",
            "success",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    way_in = {
        WaveMode.INVITE: "personal links",
        WaveMode.OPEN: "the public link",
        WaveMode.EVENT: "the roadshow links and QR codes",
    }[found.mode]
    return confirmation_page(
        Confirmation(
            caption=f"{found.instrument_version.title} · wave {found.label}",
            heading=f"Close wave {found.label} at the end of today?",
            consequences=[
                (
                    f"The wave closes at midnight tonight, London time: its last day becomes today, "
                    f"{today:%-d %B %Y}, instead of {found.closes_on:%-d %B %Y}."
                ),
                f"People can answer until then; after that {way_in} say the survey has closed.",
                (
                    "Answers held back are then released, and viewers see the wave's figures once the "
                    "results have been computed."
                ),
            ],
            warning="Reopening it means changing its dates: people turned away meanwhile will not "
            "come back by themselves.",
            button="Close the wave tonight",
            action=url_for("programme.close_now", wave_id=found.id),
            cancel=url_for("programme.wave", wave_id=found.id),
        ),
        form,
    )


# --------------------------------------------------------------------------- roadshow events


@bp.route("/waves/<int:wave_id>/events/new", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def new_event(wave_id: int):
    found = _wave(wave_id, WaveMode.EVENT)
    form = EventForm()
    if form.validate_on_submit():
        event = Event(
            wave_id=found.id,
            code=secrets.token_urlsafe(5).replace("-", "x").replace("_", "y").lower(),
            place=form.place.data.strip(),
            held_on=form.held_on.data,
        )
        db.session.add(event)
        db.session.flush()
        record("event created", wave=found.id, event=event.id, place=event.place)
        db.session.commit()
        flash(
            f"Roadshow event at {event.place} added. Print its QR code from the wave page.",
            "success",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    return render_template(
        "programme/event_form.html", title="Add a roadshow event", form=form, wave=found
    )


@bp.get("/events/<int:event_id>/qr.<fmt>")
@role_required(*ANALYST_ROLES)
def event_qr(event_id: int, fmt: str):
    event = db.session.get(Event, event_id) or abort(404)
    if fmt not in ("svg", "png"):
        abort(404)
    link = public_url("survey.event", code=event.code)
    buffer = io.BytesIO(qr_code(link, kind=fmt, scale=8 if fmt == "svg" else 12))
    mimetype = "image/svg+xml" if fmt == "svg" else "image/png"
    return send_file(
        buffer,
        mimetype=mimetype,
        as_attachment=request.args.get("download") == "1",
        download_name=f"roadshow-{event.code}.{fmt}",
    )


# --------------------------------------------------------------------------- invitations


@bp.post("/waves/<int:wave_id>/invitations")
@role_required(*ANALYST_ROLES)
def upload_invitations(wave_id: int):
    found = _wave(wave_id, WaveMode.INVITE)
    upload = InvitationUploadForm()
    problems: list[str] = []
    if upload.validate_on_submit():
        state = start_import(
            "invitations", found, upload.file.data.read(), upload.import_key.data, current_user.id
        )
        if not state.done:
            return redirect(url_for("programme.upload_import", import_id=state.id))
        if state.status == "imported":
            already = "That file was already imported: " if state.repeated else ""
            flash(
                f"{already}{state.imported} invitations added. Nothing has been sent yet.",
                "success",
            )
            return redirect(url_for("programme.wave", wave_id=found.id))
        problems = state.problems or [state.failure]
        upload = InvitationUploadForm(
            formdata=None
        )  # a new key: the corrected file is a new import
    return _wave_page(found, upload, problems), 400


@bp.get("/imports/<import_id>")
@role_required(*ANALYST_ROLES)
def upload_import(import_id: str):
    """How an uploaded file's import stands (the page a long import leads to)."""
    state = import_state(import_id) or abort(404)
    wave = _wave(state.wave_id)
    back = (
        url_for("programme.new_return", wave_id=wave.id)
        if state.kind == "returns"
        else url_for("programme.wave", wave_id=wave.id)
    )
    title = "Import returns" if state.kind == "returns" else "Import invitations"
    return render_template("programme/import.html", title=title, state=state, wave=wave, back=back)


@bp.route("/waves/<int:wave_id>/invitations/send", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def send_invitations(wave_id: int):
    """GET: the confirmation page; POST (from it): send the invitation, or a reminder
    (``kind=reminder``), to every invitation not yet used."""
    found = _wave(wave_id)
    if not found.is_open():
        flash("Invitations can only be sent while the wave is open.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    reminder = (request.form if request.method == "POST" else request.args).get(
        "kind"
    ) == "reminder"
    form = ActionForm()
    if request.method == "GET":
        return _confirm_sending(found, form, reminder)
    form.validate_on_submit() or abort(400)
    title = found.instrument_version.title
    subject = f"{'Reminder: ' if reminder else ''}{title}"
    messages = [
        (i.email, subject, invitation_text(i, title, found, reminder))
        for i in unused_with_contact(found)
        if i.email is not None
    ]  # all of them: unused_with_contact() has only those with an address
    try:
        sent = send(messages)
    except MailNotConfigured:
        flash(
            "Email is not set up for this service (MAIL_SERVER). Download the mail-merge file instead.",
            "info",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    except OSError as exc:
        flash(
            f"The email server could not be reached ({type(exc).__name__}); nothing more was sent.",
            "info",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    record("reminders sent" if reminder else "invitations sent", wave=found.id, count=sent)
    db.session.commit()
    flash(f"{sent} {'reminders' if reminder else 'invitations'} sent.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))


def _confirm_sending(found: Wave, form: ActionForm, reminder: bool) -> str:
    recipients = len(unused_with_contact(found))
    what = "a reminder" if reminder else "the invitation"
    return confirmation_page(
        Confirmation(
            caption=f"{found.instrument_version.title} · wave {found.label}",
            heading=f"Send {what} to {recipients:,} people?",
            consequences=[
                (
                    f"{recipients:,} people who have not answered yet are e-mailed {what} with their own "
                    "personal link."
                ),
                "People who have answered are not e-mailed.",
                "The sending is recorded in the audit log.",
            ],
            warning="E-mails cannot be recalled once they have been sent.",
            button=f"Send {recipients:,} e-mails",
            action=url_for("programme.send_invitations", wave_id=found.id),
            cancel=url_for("programme.wave", wave_id=found.id),
            fields={"kind": "reminder"} if reminder else {},
        ),
        form,
    )


@bp.get("/waves/<int:wave_id>/invitations.csv")
@role_required(*ANALYST_ROLES)
def mail_merge(wave_id: int):
    found = _wave(wave_id)
    rows = unused_with_contact(found)
    table = pd.DataFrame(
        [(i.name or "", i.email, link_for(i)) for i in rows], columns=["name", "email", "link"]
    )
    record("mail-merge file downloaded", wave=found.id, count=len(rows))
    db.session.commit()
    return send_file(
        io.BytesIO(spreadsheet.csv_bytes(table)),
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"invitations-{found.id}.csv",
    )


@bp.route("/waves/<int:wave_id>/invitations/purge", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def purge(wave_id: int):
    """GET: the confirmation page; POST (from it): remove every name and e-mail address of
    a closed wave's invitations."""
    found = _wave(wave_id)
    if found.closes_on >= clock.today():
        flash("Contact details can be removed once the wave has closed.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    form = ActionForm()
    if request.method == "POST":
        form.validate_on_submit() or abort(400)
        removed = purge_contacts(found)
        record("contact details purged", wave=found.id, count=removed)
        db.session.commit()
        flash(
            f"Names and email addresses removed from {removed} invitations. Counts are kept.",
            "success",
        )
        return redirect(url_for("programme.wave", wave_id=found.id))
    _, _, contactable = counts(found)
    return confirmation_page(
        Confirmation(
            caption=f"{found.instrument_version.title} · wave {found.label}",
            heading=f"Remove the contact details of {contactable:,} invitations?",
            consequences=[
                f"The names and e-mail addresses of {contactable:,} invitations are deleted.",
                "The number invited and the number who answered are kept.",
                "No reminder or mail-merge file can be made for this wave afterwards.",
            ],
            warning="This cannot be undone: the contact details cannot be restored.",
            button="Remove contact details",
            action=url_for("programme.purge", wave_id=found.id),
            cancel=url_for("programme.wave", wave_id=found.id),
        ),
        form,
    )
