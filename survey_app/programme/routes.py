from __future__ import annotations

import csv
import datetime as dt
import io
import secrets

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from ..audit import record
from ..auth.roles import ANALYST_ROLES, role_required
from ..extensions import db
from ..mail import MailNotConfigured, send
from ..models import Event, HeldSubmission, InstrumentVersion, Response, Wave, WaveMode
from ..survey.qr import qr_code
from ..survey.store import forget_wave
from . import bp
from .forms import ActionForm, EventForm, InvitationUploadForm, WaveForm
from .invitations import (
    InvitationFileError,
    add_invitations,
    counts,
    existing_addresses,
    link_for,
    parse_contacts,
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
    versions = db.session.scalars(select(InstrumentVersion).order_by(
        InstrumentVersion.instrument_id, InstrumentVersion.id.desc())).all()
    return [SelectChoice(str(v.id), f"{v.title} ({v.audience}), version {v.short_version} "
                                    f"loaded {v.loaded_at:%-d %b %Y}") for v in versions]


def _started(wave: Wave) -> bool:
    if dt.date.today() >= wave.opens_on:
        return True
    answered = db.session.scalar(select(func.count()).select_from(Response).where(Response.wave_id == wave.id))
    held = db.session.scalar(select(func.count()).select_from(HeldSubmission).where(HeldSubmission.wave_id == wave.id))
    return bool(answered or held)


def _label_taken(version: InstrumentVersion, label: str, wave_id: int | None = None) -> bool:
    query = (select(Wave.id).join(InstrumentVersion)
             .where(InstrumentVersion.instrument_id == version.instrument_id, Wave.label == label))
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
            wave = Wave(label=label, instrument_version=version, audience=version.audience,
                        mode=WaveMode(form.mode.data), opens_on=form.opens_on.data,
                        closes_on=form.closes_on.data, audience_size=form.audience_size.data)
            db.session.add(wave)
            db.session.flush()
            record("wave created", wave=wave.id, label=label, instrument=version.instrument_id,
                   version=version.version, mode=wave.mode.value)
            db.session.commit()
            flash(f"Wave {label} of {version.title} has been created.", "success")
            return redirect(url_for("programme.wave", wave_id=wave.id))
    return render_template("programme/wave_form.html", title="Create a wave", form=form)


@bp.get("/waves/<int:wave_id>")
@role_required(*ANALYST_ROLES)
def wave(wave_id: int):
    found = _wave(wave_id)
    invited, used, contactable = counts(found)
    return render_template("programme/wave.html", title=f"Wave {found.label}", wave=found,
                           started=_started(found), invited=invited, used=used, contactable=contactable,
                           today=dt.date.today(), action=ActionForm(), upload=InvitationUploadForm())


@bp.route("/waves/<int:wave_id>/edit", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def edit_wave(wave_id: int):
    found = _wave(wave_id)
    form = WaveForm(obj=found, instrument_version=found.instrument_version_id, mode=found.mode.value)
    form.instrument_version.choices = _version_choices()
    if request.method == "POST" and form.validate():
        label = form.label.data.strip()
        version = db.session.get(InstrumentVersion, form.instrument_version.data)
        changing_version = version is not None and version.id != found.instrument_version_id
        if version is None:
            form.instrument_version.errors = ["Choose a survey"]
        elif changing_version and _started(found):
            form.instrument_version.errors = [
                ("A wave that has started keeps its survey version, so every answer in it was "
                "given to the same questions")
            ]
        elif changing_version and version.instrument_id != found.instrument_id:
            form.instrument_version.errors = ["Choose a version of the same survey (create a new wave for another survey)"]
        elif form.mode.data != found.mode.value and _started(found):
            form.mode.errors = ["A wave that has started keeps its way in"]
        elif _label_taken(version, label, found.id):
            form.label.errors = [f"{version.title} already has a wave called {label}"]
        else:
            before = {"label": found.label, "opens_on": found.opens_on.isoformat(),
                      "closes_on": found.closes_on.isoformat(), "audience_size": found.audience_size,
                      "version": found.instrument_version.version}
            found.label, found.instrument_version = label, version
            found.mode = WaveMode(form.mode.data)
            found.opens_on, found.closes_on = form.opens_on.data, form.closes_on.data
            found.audience_size = form.audience_size.data
            record("wave changed", wave=found.id, before=before,
                   after={"label": label, "opens_on": found.opens_on.isoformat(),
                          "closes_on": found.closes_on.isoformat(), "audience_size": found.audience_size,
                          "version": version.version})
            db.session.commit()
            forget_wave(found.slug)
            flash(f"Wave {label} has been updated.", "success")
            return redirect(url_for("programme.wave", wave_id=found.id))
    return render_template("programme/wave_form.html", title=f"Change wave {found.label}", form=form, wave=found)


@bp.post("/waves/<int:wave_id>/open-now")
@role_required(*ANALYST_ROLES)
def open_now(wave_id: int):
    found = _wave(wave_id)
    ActionForm().validate_on_submit() or abort(400)
    today = dt.date.today()
    found.opens_on = min(found.opens_on, today)
    found.closes_on = max(found.closes_on, today)
    record("wave opened", wave=found.id, opens_on=found.opens_on.isoformat())
    db.session.commit()
    forget_wave(found.slug)
    flash(f"Wave {found.label} is open.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))


@bp.post("/waves/<int:wave_id>/close-now")
@role_required(*ANALYST_ROLES)
def close_now(wave_id: int):
    from ..drafts import purge_closed as purge_closed_drafts
    from ..survey.store import release_held

    found = _wave(wave_id)
    ActionForm().validate_on_submit() or abort(400)
    yesterday = dt.date.today() - dt.timedelta(days=1)
    found.closes_on = yesterday
    found.opens_on = min(found.opens_on, yesterday)
    record("wave closed", wave=found.id, closes_on=yesterday.isoformat())
    db.session.commit()
    forget_wave(found.slug)
    released = release_held(found.id, force=True)  # a closed wave holds nothing back
    purge_closed_drafts()
    flash(f"Wave {found.label} is closed. {released} held responses were released.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))


# --------------------------------------------------------------------------- roadshow events


@bp.route("/waves/<int:wave_id>/events/new", methods=["GET", "POST"])
@role_required(*ANALYST_ROLES)
def new_event(wave_id: int):
    found = _wave(wave_id, WaveMode.EVENT)
    form = EventForm()
    if form.validate_on_submit():
        event = Event(wave_id=found.id, code=secrets.token_urlsafe(5).replace("-", "x").replace("_", "y").lower(),
                      place=form.place.data.strip(), held_on=form.held_on.data)
        db.session.add(event)
        db.session.flush()
        record("event created", wave=found.id, event=event.id, place=event.place)
        db.session.commit()
        flash(f"Roadshow event at {event.place} added. Print its QR code from the wave page.", "success")
        return redirect(url_for("programme.wave", wave_id=found.id))
    return render_template("programme/event_form.html", title="Add a roadshow event", form=form, wave=found)


@bp.get("/events/<int:event_id>/qr.<fmt>")
@role_required(*ANALYST_ROLES)
def event_qr(event_id: int, fmt: str):
    event = db.session.get(Event, event_id) or abort(404)
    if fmt not in ("svg", "png"):
        abort(404)
    link = url_for("survey.event", code=event.code, _external=True)
    buffer = io.BytesIO(qr_code(link, kind=fmt, scale=8 if fmt == "svg" else 12))
    mimetype = "image/svg+xml" if fmt == "svg" else "image/png"
    return send_file(buffer, mimetype=mimetype, as_attachment=request.args.get("download") == "1",
                     download_name=f"roadshow-{event.code}.{fmt}")


# --------------------------------------------------------------------------- invitations


@bp.post("/waves/<int:wave_id>/invitations")
@role_required(*ANALYST_ROLES)
def upload_invitations(wave_id: int):
    found = _wave(wave_id, WaveMode.INVITE)
    upload = InvitationUploadForm()
    problems: list[str] = []
    if upload.validate_on_submit():
        try:
            contacts = parse_contacts(upload.file.data.read(), existing_addresses(found))
        except InvitationFileError as exc:
            problems = exc.problems
        else:
            add_invitations(found, contacts)
            record("invitations uploaded", wave=found.id, count=len(contacts))
            db.session.commit()
            flash(f"{len(contacts)} invitations added. Nothing has been sent yet.", "success")
            return redirect(url_for("programme.wave", wave_id=found.id))
    invited, used, contactable = counts(found)
    return render_template("programme/wave.html", title=f"Wave {found.label}", wave=found,
                           started=_started(found), invited=invited, used=used, contactable=contactable,
                           today=dt.date.today(), action=ActionForm(), upload=upload,
                           upload_problems=problems), 400


@bp.post("/waves/<int:wave_id>/invitations/send")
@role_required(*ANALYST_ROLES)
def send_invitations(wave_id: int):
    """Send the invitation, or a reminder, to every invitation not yet used."""
    found = _wave(wave_id)
    ActionForm().validate_on_submit() or abort(400)
    if not found.is_open():
        flash("Invitations can only be sent while the wave is open.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    reminder = request.form.get("kind") == "reminder"
    title = found.instrument_version.title
    subject = f"{'Reminder: ' if reminder else ''}{title}"
    messages = [(i.email, subject, _invitation_text(i, title, found, reminder)) for i in unused_with_contact(found)]
    try:
        sent = send(messages)
    except MailNotConfigured:
        flash("Email is not set up for this service (MAIL_SERVER). Download the mail-merge file instead.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    except OSError as exc:
        flash(f"The email server could not be reached ({type(exc).__name__}); nothing more was sent.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    record("reminders sent" if reminder else "invitations sent", wave=found.id, count=sent)
    db.session.commit()
    flash(f"{sent} {'reminders' if reminder else 'invitations'} sent.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))


def _invitation_text(invitation, title: str, wave: Wave, reminder: bool) -> str:
    greeting = f"Dear {invitation.name}," if invitation.name else "Hello,"
    opening = ("This is a reminder: we would still like to hear from you." if reminder
               else "We would like to hear what you think.")
    return (f"{greeting}\n\n{opening} Please answer the {title} by {wave.closes_on:%-d %B %Y}.\n\n"
            f"Your personal link (it works once and keeps your place if you stop part way):\n"
            f"{link_for(invitation)}\n\nYour answers are anonymous: they are never stored with your "
            "name, email address or this link.\n")


@bp.get("/waves/<int:wave_id>/invitations.csv")
@role_required(*ANALYST_ROLES)
def mail_merge(wave_id: int):
    found = _wave(wave_id)
    rows = unused_with_contact(found)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "email", "link"])
    writer.writerows([i.name or "", i.email, link_for(i)] for i in rows)
    record("mail-merge file downloaded", wave=found.id, count=len(rows))
    db.session.commit()
    return send_file(io.BytesIO(buffer.getvalue().encode("utf-8")), mimetype="text/csv", as_attachment=True,
                     download_name=f"invitations-{found.id}.csv")


@bp.post("/waves/<int:wave_id>/invitations/purge")
@role_required(*ANALYST_ROLES)
def purge(wave_id: int):
    found = _wave(wave_id)
    ActionForm().validate_on_submit() or abort(400)
    if found.closes_on >= dt.date.today():
        flash("Contact details can be removed once the wave has closed.", "info")
        return redirect(url_for("programme.wave", wave_id=found.id))
    removed = purge_contacts(found)
    record("contact details purged", wave=found.id, count=removed)
    db.session.commit()
    flash(f"Names and email addresses removed from {removed} invitations. Counts are kept.", "success")
    return redirect(url_for("programme.wave", wave_id=found.id))
