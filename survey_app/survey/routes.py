"""Respondent routes. Answers in progress live in the signed session cookie, under the
wave's slug, until they are sent; the database sees only the final submission.

Session layout (``session["pulse"][slug]``): ``a`` answers so far, ``ev`` the roadshow event
id, ``tok`` the invitation token (moved here from the link), ``keys`` the idempotency keys of
check-answers forms rendered. ``session["answered"]`` lists slugs answered on this device and
``session["done_keys"]`` recently used idempotency keys.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import partial
from typing import Any

from flask import (
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from instruments import Instrument

from ..extensions import db
from ..models import Event, InstrumentVersion, Invitation, Wave, WaveMode
from ..ratelimit import submit_allowed
from ..security import hash_token
from . import bp
from .forms import (
    SUBMIT_FIELD,
    CheckAnswersForm,
    Page,
    Problem,
    display_value,
    page_form,
    pages_of,
)
from .store import (
    AlreadyUsed,
    Duplicate,
    Invalid,
    NotSaved,
    WaveFacts,
    WaveNotOpen,
    delete_invite_draft,
    forget_wave,
    last_known_wave_facts,
    link_used,
    load_draft,
    save_draft,
    store_submission,
    wave_facts,
)

AUDIENCE_TEXT = {
    "members": "councillors (elected members) of the council",
    "staff": "everyone who works for the council",
    "residents": "people who live in the borough",
    "partners": "organisations that work with the council",
    "commissioners": "the commissioners appointed to the council",
}
MAX_DONE_KEYS = 10


def _over_submit_limit(wave: WaveFacts, event_id: int | None) -> bool:
    """Counts a send against the brake of its wave and event (see
    :func:`~survey_app.ratelimit.submit_allowed`); whether it is over. If the storage is
    unreachable the send goes ahead: losing a brake for a while is better than losing
    answers."""
    return not submit_allowed(wave.id, event_id, get_remote_address(),
                              on_failure=_submit_counts_not_shared)


def _submit_counts_not_shared(_error: Exception) -> None:
    # A warning only: the error's text could name the storage's address and password.
    current_app.logger.warning(
        "survey submit counts not shared: rate-limit storage failed; this process brakes on "
        "its own counts until it is back")


# --------------------------------------------------------------------------- helpers


def _today() -> dt.date:
    return dt.date.today()


def _instrument_cache() -> dict[int, Instrument]:
    return current_app.extensions.setdefault("pulse_instrument_cache", {})


def _instrument(wave: Wave | WaveFacts) -> Instrument:
    """The wave's validated instrument, built once per process per version (a version's
    definition never changes), looked up by key so that no request loads it again."""
    cache, version_id = _instrument_cache(), wave.instrument_version_id
    if version_id not in cache:
        cache[version_id] = db.session.get(InstrumentVersion, version_id).instrument
    return cache[version_id]


def _cached_instrument(wave: WaveFacts) -> Instrument | None:
    """The instrument if this process has built it, without the database."""
    return _instrument_cache().get(wave.instrument_version_id)


def _message(template_status: int, heading: str, *paragraphs: str, title: str | None = None):
    return make_response(
        render_template("survey/message.html", title=title or heading, heading=heading,
                        paragraphs=paragraphs),
        template_status,
    )


def _date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _draft(slug: str) -> dict[str, Any]:
    return session.get("pulse", {}).get(slug, {})


def _save_draft(slug: str, draft: dict[str, Any] | None) -> None:
    drafts = dict(session.get("pulse", {}))
    if draft is None:
        drafts.pop(slug, None)
    else:
        drafts[slug] = draft
    session["pulse"] = drafts


NOT_SAVED_NOTICE = ("Your answers were not saved, please try again. Your answers are still here: "
                    "select Send my answers again in a moment.")


def _open_wave(slug: str) -> tuple[WaveFacts, Instrument]:
    """The wave behind ``slug`` if a respondent may answer it now; otherwise aborts with a
    page that explains why (unknown, not open yet, closed, invitation needed)."""
    wave = wave_facts(slug)
    if wave is None:
        abort(_message(404, "Survey not found",
                       "We cannot find a survey at this address. Check the link you were given."))
    instrument = _instrument(wave)
    today = _today()
    if today < wave.opens_on:
        abort(_message(200, f"{instrument.title} is not open yet",
                       f"This survey opens on {_date(wave.opens_on)} and closes on "
                       f"{_date(wave.closes_on)}.", "Please come back then."))
    if today > wave.closes_on:
        abort(_message(200, f"{instrument.title} has closed",
                       f"This survey closed on {_date(wave.closes_on)}. It was open from "
                       f"{_date(wave.opens_on)}.", "Thank you for your interest. We ask again "
                       "every quarter."))
    if wave.mode is WaveMode.INVITE and not _draft(slug).get("tok"):
        abort(_message(403, "You need your personal link",
                       f"{instrument.title} is only for people who have been sent a personal "
                       "link. Open the link in the email you were sent.",
                       "If you have lost it, contact the team that sent it to you."))
    return wave, instrument


def _page_or_404(instrument: Instrument, number: int) -> tuple[Page, list[Page]]:
    pages = pages_of(instrument)
    if not 1 <= number <= len(pages):
        abort(_message(404, "Page not found", "This survey has no page at this address."))
    return pages[number - 1], pages


# --------------------------------------------------------------------------- ways in


@bp.get("/i/<token>")
def invite(token: str):
    """A personal link: the token moves into the session and the address is redirected at
    once, so access logs, history and referrers never carry it beyond this request."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        return _message(404, "This link is not recognised",
                        "The link may have been copied wrongly. Check that you used the whole "
                        "link from your email.",
                        "If it still does not work, contact the team that sent it to you.")
    wave = db.session.get(Wave, invitation.wave_id)
    if invitation.used or link_used(token):  # sent, and held or released
        return _message(200, "This link has already been used",
                        "Answers have already been sent from this personal link, and each link "
                        "can only be used once. Thank you for taking part.",
                        title="Link already used")
    draft = _draft(wave.slug)
    if draft.get("tok") != token:
        draft = {"tok": token, "a": {}}
    saved = load_draft(invitation)  # save and resume: answers given earlier on any device
    if saved:
        draft = {**draft, "a": {**saved, **draft.get("a", {})}}
    _save_draft(wave.slug, draft)
    return redirect(url_for("survey.start", slug=wave.slug), 303)


@bp.get("/e/<code>")
def event(code: str):
    """A roadshow's short link (printed as a QR code): remembers the event, then starts."""
    found = db.session.scalar(select(Event).where(Event.code == code.lower()))
    if found is None:
        return _message(404, "Event not found",
                        "We cannot find a roadshow event with this code. Check the address on "
                        "the poster or slide.")
    slug = found.wave.slug
    draft = dict(_draft(slug))
    if draft.get("ev") != found.id:
        draft = {"ev": found.id, "a": {}}
    _save_draft(slug, draft)
    return redirect(url_for("survey.start", slug=slug), 303)


# --------------------------------------------------------------------------- pages


@bp.get("/s/<slug>")
def start(slug: str):
    wave, instrument = _open_wave(slug)
    pages = pages_of(instrument)
    event_place = None
    if wave.mode is WaveMode.EVENT and _draft(slug).get("ev"):
        found = db.session.get(Event, _draft(slug)["ev"])
        event_place = found.place if found is not None else None
    answers = _draft(slug).get("a", {})
    resume_at = None
    if answers:
        unanswered = [p.number for p in pages if not set(p.field_ids) & set(answers)]
        resume_at = (url_for("survey.page", slug=slug, number=unanswered[0]) if unanswered
                     else url_for("survey.check", slug=slug))
    return render_template(
        "survey/start.html", title=instrument.title, wave=wave, instrument=instrument,
        resume_at=resume_at,
        audience_text=AUDIENCE_TEXT.get(wave.audience, wave.audience), pages=pages,
        closes_on=_date(wave.closes_on), event_place=event_place,
        answered=slug in session.get("answered", []),
        question_count=len(instrument.questions),
    )


def _render_page(wave: WaveFacts, instrument: Instrument, page: Page, pages: list[Page], form,
                 status: int = 200, problems: list[Problem] | None = None,
                 notice: str | None = None):
    change = request.args.get("change") == "1"
    back = (url_for("survey.check", slug=wave.slug) if change
            else url_for("survey.page", slug=wave.slug, number=page.number - 1) if page.number > 1
            else url_for("survey.start", slug=wave.slug))
    errors = [{"text": p.message, "href": f"#{p.field_id}"} for p in problems or []]
    for fid in page.field_ids:
        if form[fid].errors:
            errors.append({"text": form[fid].errors[0], "href": f"#{form[fid].id}"})
    title = f"{'Error: ' if errors else ''}{page.heading} – {instrument.title}"
    return make_response(render_template(
        "survey/page.html", title=title, wave=wave, instrument=instrument, page=page,
        pages=pages, form=form, errors=errors, back_link=back, notice=notice,
        submit_field=SUBMIT_FIELD, change=change,
    ), status)


@bp.route("/s/<slug>/<int:number>", methods=["GET", "POST"])
def page(slug: str, number: int):
    wave, instrument = _open_wave(slug)
    current, pages = _page_or_404(instrument, number)
    form_class = page_form(instrument, current)
    draft = dict(_draft(slug))
    answers = dict(draft.get("a", {}))
    if request.method == "GET":
        form = form_class(formdata=None, data={f: answers[f] for f in current.field_ids if f in answers})
        return _render_page(wave, instrument, current, pages, form)

    form = form_class()
    if g.get("csrf_failed"):
        return _render_page(wave, instrument, current, pages, form, notice=(
            "Your session timed out, so this page's answers have not been saved yet. "
            "Check them below and select Continue."))
    allowed = set(current.field_ids) | {"csrf_token", SUBMIT_FIELD}
    unexpected = sorted(k for k in request.form if k not in allowed)
    repeated = sorted(k for k in request.form if len(request.form.getlist(k)) > 1)
    if unexpected or repeated:
        problems = [Problem(current.field_ids[0] if current.field_ids else "main-content",
                            "The form sent answers this page does not ask for, so nothing was "
                            "saved. Answer the questions below and select Continue.")]
        return _render_page(wave, instrument, current, pages, form, status=400, problems=problems)
    if not form.validate():
        return _render_page(wave, instrument, current, pages, form)
    for fid in current.field_ids:
        answers.pop(fid, None)
    answers.update(form.answers())
    draft["a"] = answers
    _save_draft(slug, draft)
    if wave.mode is WaveMode.INVITE and draft.get("tok"):
        save_draft(wave, draft["tok"], answers)
    if request.args.get("change") == "1" or number == len(pages):
        return redirect(url_for("survey.check", slug=slug), 303)
    return redirect(url_for("survey.page", slug=slug, number=number + 1), 303)


def _summary_rows(slug: str, instrument: Instrument, answers: dict[str, Any]) -> list[dict]:
    sections = []
    for p in pages_of(instrument):
        rows = []
        items = [(q.id, q.text) for q in p.questions] + [(a.id, a.text) for a in p.attributes]
        for fid, text in items:
            shown = display_value(instrument, fid, answers.get(fid))
            rows.append({
                "key": {"text": text},
                "value": {"text": shown} if shown else {"html": '<span class="govuk-hint govuk-!-margin-bottom-0">Not answered</span>'},
                "actions": {"items": [{
                    "href": url_for("survey.page", slug=slug, number=p.number, change=1) + f"#{fid}",
                    "text": "Change", "visuallyHiddenText": f"your answer to: {text}",
                }]},
            })
        heading = "Your answers" if p.heading == instrument.title else p.heading
        sections.append({"heading": heading, "rows": rows, "number": p.number})
    return sections


def _render_check(wave: WaveFacts, instrument: Instrument, status: int = 200,
                  problems: list[Problem] | None = None, notice: str | None = None):
    form = CheckAnswersForm()  # a posted form keeps its idempotency key, see below
    draft = dict(_draft(wave.slug))
    keys = list(draft.get("keys", []))
    # A form shown again after a failed send keeps its key: if the failed send was in fact
    # stored (the database committed, then the connection broke before it said so), sending
    # again is then recognised as the same submission instead of stored a second time.
    key = form.submission_key.data if form.submission_key.data in keys else secrets.token_urlsafe(18)
    draft["keys"] = ([k for k in keys if k != key] + [key])[-MAX_DONE_KEYS:]
    _save_draft(wave.slug, draft)
    form.submission_key.data = key
    answers = draft.get("a", {})
    errors = [{"text": p.message,
               "href": url_for("survey.page", slug=wave.slug, number=p.page, change=1) + f"#{p.field_id}"}
              for p in problems or []]
    pages = pages_of(instrument)
    return make_response(render_template(
        "survey/check.html", title=f"{'Error: ' if errors else ''}Check your answers – {instrument.title}",
        wave=wave, instrument=instrument, sections=_summary_rows(wave.slug, instrument, answers),
        form=form, errors=errors, notice=notice,
        back_link=url_for("survey.page", slug=wave.slug, number=len(pages)),
    ), status)


def _mark_answered(slug: str, key: str | None) -> None:
    answered = [s for s in session.get("answered", []) if s != slug] + [slug]
    session["answered"] = answered[-MAX_DONE_KEYS:]
    if key:
        session["done_keys"] = (list(session.get("done_keys", [])) + [key])[-MAX_DONE_KEYS:]
    _save_draft(slug, None)


@bp.route("/s/<slug>/check", methods=["GET", "POST"])
def check(slug: str):
    if request.method == "POST" and request.form.get("submission_key") in session.get("done_keys", []):
        return redirect(url_for("survey.done", slug=slug), 303)  # sent already: no duplicate
    try:
        wave, instrument = _open_wave(slug)
    except SQLAlchemyError:
        # The database is unreachable before anything could be stored: say so, with the
        # answers (they are in the session), instead of an error page.
        db.session.rollback()
        current_app.logger.warning("survey check page without a database")
        if request.method != "POST":
            raise
        snapshot = last_known_wave_facts(slug)
        instrument = _cached_instrument(snapshot) if snapshot is not None else None
        if instrument is None:
            return _message(503, "Your answers were not saved, please try again",
                            "We could not reach our database just now. Your answers are kept in this "
                            "browser: go back and select Send my answers again in a minute.")
        return _render_check(snapshot, instrument, status=503, notice=NOT_SAVED_NOTICE)
    if request.method == "GET":
        return _render_check(wave, instrument)
    if g.get("csrf_failed"):
        return _render_check(wave, instrument, notice=(
            "Your session timed out before your answers were sent. Your answers are below: "
            "check them and select Send my answers again."))
    draft = _draft(slug)
    # CSRFProtect has checked the token before this view; the key is all the form carries,
    # so no form object is built unless a page is shown again.
    key = request.form.get("submission_key", "")
    if key not in draft.get("keys", []):
        return _render_check(wave, instrument, status=400, notice=(
            "Your answers have not been sent yet. Check them and select Send my answers."))
    answers = draft.get("a", {})
    token = draft.get("tok") if wave.mode is WaveMode.INVITE else None
    event_id = draft.get("ev") if wave.mode is WaveMode.EVENT else None
    if _over_submit_limit(wave, event_id):
        return _too_many_sends(wave, instrument)
    try:
        store_submission(wave, instrument, answers, submission_key=key, token=token,
                         event_id=event_id, today=_today(), only_while_open=True,
                         also_in_transaction=(partial(delete_invite_draft, token)
                                              if token is not None else None))
    except WaveNotOpen:  # closed since this process last read the wave: say so
        forget_wave(slug)
        _open_wave(slug)  # aborts with the page that explains it
        return _render_check(wave, instrument, status=503, notice=NOT_SAVED_NOTICE)
    except Duplicate:
        _mark_answered(slug, key)
        return redirect(url_for("survey.done", slug=slug), 303)
    except AlreadyUsed:
        _save_draft(slug, None)
        return _message(200, "This link has already been used",
                        "Answers have already been sent from this personal link, and each link "
                        "can only be used once, so these answers were not saved. "
                        "Thank you for taking part.", title="Link already used")
    except Invalid as invalid:  # e.g. a required question skipped: say which, with links
        return _render_check(wave, instrument, problems=invalid.problems)
    except NotSaved:
        current_app.logger.exception("a survey submission could not be stored")
        return _render_check(wave, instrument, status=503, notice=NOT_SAVED_NOTICE)
    _mark_answered(slug, key)
    return redirect(url_for("survey.done", slug=slug), 303)


@bp.get("/s/<slug>/done")
def done(slug: str):
    wave = wave_facts(slug)
    if wave is None or slug not in session.get("answered", []):
        return redirect(url_for("survey.start", slug=slug), 303)
    return render_template("survey/done.html", title="Answers sent", wave=wave,
                           instrument=_instrument(wave))


# --------------------------------------------------------------------------- nothing lost


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """A survey post whose session or CSRF token expired is shown again with the posted
    answers and a plain message, never a 400 page. (A blueprint handler: it applies to
    survey routes only, and wins over any app-wide 400 or CSRF error page.)"""
    if request.method != "POST" or not request.endpoint:
        return error
    g.csrf_failed = True
    try:
        return current_app.view_functions[request.endpoint](**(request.view_args or {}))
    except HTTPException as page:  # e.g. the wave closed meanwhile: explain that
        return page


def _too_many_sends(wave: WaveFacts, instrument: Instrument):
    """Too many submissions from one address: the answers stay, with a plain message."""
    return _render_check(wave, instrument, status=429, notice=(
        "A lot of answers to this survey have been sent in the last few minutes, so these "
        "have not been sent yet. Your answers are still here: wait a few "
        "minutes and select Send my answers again."))
