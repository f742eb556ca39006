"""Respondent routes. Answers in progress live server-side in a sealed draft that only this
browser can open (:mod:`survey_app.drafts`); the session cookie holds its handle and a few
fixed-size things (:mod:`survey_app.survey.progress`), whatever the answers.

After a send, Back and reload show that the answers were sent (never a live Send button), and
on an open or event link a shared device offers "Start again for the next person", keeping
the roadshow event.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import (
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from instruments import Instrument
from instruments.languages import ENGLISH, html_lang
from instruments.routing import asked, conditions_of
from instruments.schema import Attribute, Question
from instruments.translation import Localised, languages

from .. import clock, drafts
from ..extensions import db
from ..models import Event, InstrumentVersion, Invitation, Wave, WaveMode
from ..ratelimit import submit_allowed
from ..security import hash_token
from . import bp, progress
from .forms import (
    SUBMIT_FIELD,
    CheckAnswersForm,
    Page,
    Problem,
    StartAgainForm,
    asked_on,
    display_value,
    page_form,
    pages_of,
    quoted,
    redact_for_draft,
)
from .store import (
    AlreadyUsed,
    Duplicate,
    Invalid,
    NotSaved,
    WaveFacts,
    WaveNotOpen,
    forget_wave,
    last_known_wave_facts,
    link_used,
    prepare_submission,
    read_prepared,
    store_prepared,
    store_submission,
    submission_stored,
    wave_facts,
)

AUDIENCE_TEXT = {
    "members": "councillors (elected members) of the council",
    "staff": "everyone who works for the council",
    "residents": "people who live in the borough",
    "partners": "organisations that work with the council",
    "commissioners": "the commissioners appointed to the council",
}


def _over_submit_limit(wave: WaveFacts, event_id: int | None) -> bool:
    """Counts a send against the brake of its wave and event (see
    :func:`~survey_app.ratelimit.submit_allowed`); whether it is over. If the storage is
    unreachable the send goes ahead: losing a brake for a while is better than losing
    answers."""
    return not submit_allowed(
        wave.id, event_id, get_remote_address(), on_failure=_submit_counts_not_shared
    )


def _submit_counts_not_shared(_error: Exception) -> None:
    # A warning only: the error's text could name the storage's address and password.
    current_app.logger.warning(
        "survey submit counts not shared: rate-limit storage failed; this process brakes on "
        "its own counts until it is back"
    )


# --------------------------------------------------------------------------- helpers


def _today() -> dt.date:
    return clock.today()


def _instrument_cache() -> dict[int, Instrument]:
    return current_app.extensions.setdefault("pulse_instrument_cache", {})


def _instrument(wave: Wave | WaveFacts) -> Instrument:
    """The wave's validated instrument, built once per process per version (a version's
    definition never changes), looked up by key so that no request loads it again."""
    cache, version_id = _instrument_cache(), wave.instrument_version_id
    if version_id not in cache:
        cache[version_id] = db.session.get_one(InstrumentVersion, version_id).instrument
    return cache[version_id]


def _cached_instrument(wave: WaveFacts) -> Instrument | None:
    """The instrument if this process has built it, without the database."""
    return _instrument_cache().get(wave.instrument_version_id)


def _message(template_status: int, heading: str, *paragraphs: str, title: str | None = None):
    return make_response(
        render_template(
            "survey/message.html", title=title or heading, heading=heading, paragraphs=paragraphs
        ),
        template_status,
    )


def _date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _answers(wave: WaveFacts) -> dict[str, str]:
    return progress.answers(wave.slug, wave.id, _today(), _instrument(wave))


def _draft(wave: WaveFacts) -> tuple[dict[str, str], bytes | None]:
    return progress.draft(wave.slug, wave.id, _today(), _instrument(wave))


def _event_id(wave: WaveFacts) -> int | None:
    return progress.entry(wave.slug).get("ev") if wave.mode is WaveMode.EVENT else None


NOT_SAVED_NOTICE = (
    "Your answers were not saved, please try again. Your answers are still here: "
    "select Send my answers again in a moment."
)
UNREACHABLE_NOTICE = (
    "Your answers were not saved, please try again. We could not reach our "
    "database just now. Your answers so far are kept: select Send my answers "
    "again in a minute."
)
PAGE_NOT_SAVED_NOTICE = (
    "This page's answers have not been saved yet, because we could not "
    "reach our database. They are still below: select Continue again in "
    "a minute."
)


def _open_wave(slug: str) -> tuple[WaveFacts, Instrument]:
    """The wave behind ``slug`` if a respondent may answer it now; otherwise aborts with a
    page that explains why (unknown, not open yet, closed, invitation needed)."""
    wave = wave_facts(slug)
    if wave is None:
        abort(
            _message(
                404,
                "Survey not found",
                "We cannot find a survey at this address. Check the link you were given.",
            )
        )
    instrument = _instrument(wave)
    today = _today()
    if today < wave.opens_on:
        abort(
            _message(
                200,
                f"{instrument.title} is not open yet",
                f"This survey opens on {_date(wave.opens_on)} and closes on "
                f"{_date(wave.closes_on)}.",
                "Please come back then.",
            )
        )
    if today > wave.closes_on:
        abort(
            _message(
                200,
                f"{instrument.title} has closed",
                f"This survey closed on {_date(wave.closes_on)}. It was open from "
                f"{_date(wave.opens_on)}.",
                "Thank you for your interest. We ask again every quarter.",
            )
        )
    if wave.mode is WaveMode.INVITE and not progress.entry(slug).get("tok"):
        abort(
            _message(
                403,
                "You need your personal link",
                f"{instrument.title} is only for people who have been sent a personal "
                "link. Open the link in the email you were sent.",
                "If you have lost it, contact the team that sent it to you.",
            )
        )
    return wave, instrument


def _answering_wave(slug: str) -> tuple[WaveFacts, Instrument]:
    """:func:`_open_wave`, and, if this browser has sent its answers and no one has started
    again since, aborts with the "sent" page instead of showing a form that would send
    again."""
    wave, instrument = _open_wave(slug)
    if progress.sent_already(slug):
        abort(_sent_page(wave, instrument))
    return wave, instrument


def _sent_page(wave: WaveFacts, instrument: Instrument, status: int = 200):
    return make_response(
        render_template(
            "survey/sent.html",
            title=f"Your answers have been sent – {instrument.title}",
            wave=wave,
            instrument=instrument,
            start_again=_start_again_form(wave),
        ),
        status,
    )


def _start_again_form(wave: WaveFacts) -> StartAgainForm | None:
    """A personal link is used once; an open or event link can take the next person."""
    return None if wave.mode is WaveMode.INVITE else StartAgainForm()


def _texts(slug: str, instrument: Instrument) -> Localised:
    """The instrument's strings in this browser's language: ``?lang=`` (a poster's link, or
    the start page's choice) is kept in the session for the rest of the survey; an unknown
    code is ignored."""
    codes = {code for code, _ in languages(instrument)}
    chosen = request.args.get("lang")
    if chosen in codes:
        progress.choose_language(slug, chosen)
    code = progress.language(slug)
    return Localised(instrument, code if code in codes else ENGLISH)


def _language_context(texts: Localised) -> dict[str, Any]:
    """What base.html needs to mark the content's language and direction."""
    if texts.language == ENGLISH:
        return {}
    return {
        "mainLang": html_lang(texts.language),
        "mainAttributes": {"dir": "rtl"} if texts.rtl else {},
    }


def _asked_pages(instrument: Instrument, answers: dict[str, str]) -> list[Page]:
    """The pages with something asked on them, given the answers so far (each page holding
    only what it asks)."""
    kept, _ = asked(instrument, answers)
    shown = [asked_on(instrument, p, kept) for p in pages_of(instrument)]
    return [p for p in shown if p.field_ids]


def _page_or_404(instrument: Instrument, number: int) -> tuple[Page, list[Page]]:
    pages = pages_of(instrument)
    if not 1 <= number <= len(pages):
        abort(_message(404, "Page not found", "This survey has no page at this address."))
    return pages[number - 1], pages


# --------------------------------------------------------------------------- ways in


def unused_invitation_or_message(token: str) -> tuple[Invitation, Wave] | Any:
    """The invitation and wave behind a personal link's token, or the page that says why
    the link cannot be used (unknown, or used already)."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    )
    if invitation is None:
        return _message(
            404,
            "This link is not recognised",
            "The link may have been copied wrongly. Check that you used the whole "
            "link from your email.",
            "If it still does not work, contact the team that sent it to you.",
        )
    if invitation.used or link_used(token):  # sent, and held or released
        return _message(
            200,
            "This link has already been used",
            "Answers have already been sent from this personal link, and each link "
            "can only be used once. Thank you for taking part.",
            title="Link already used",
        )
    return invitation, db.session.get(Wave, invitation.wave_id)


@bp.get("/i/<token>")
def invite(token: str):
    """A personal link: the token moves into the session and the address is redirected at
    once, so access logs, history and referrers never carry it beyond this request. The
    link alone resumes nothing: answers in progress open only in the browser that holds
    their draft's secret, or from a resume link (``?resume=``) that its respondent asked to
    have e-mailed (see resume.py)."""
    found = unused_invitation_or_message(token)
    if not isinstance(found, tuple):
        return found
    _, wave = found
    code = request.args.get("resume")
    if code is None:
        progress.enter_invitation(wave.slug, token)
    elif not progress.resume(wave.slug, wave.id, token, code, _today()):
        return _message(
            200,
            "This link to finish your answers has already been used",
            "A link to finish on another device works once, and only until the "
            "survey closes. The answers it carried are in the browser where it was "
            "first opened.",
            "You can still answer from the personal link in your invitation email.",
            title="Resume link already used",
        )
    return redirect(url_for("survey.start", slug=wave.slug), 303)


@bp.get("/e/<code>")
def event(code: str):
    """A roadshow's short link (printed as a QR code): remembers the event, then starts."""
    found = db.session.scalar(select(Event).where(Event.code == code.lower()))
    if found is None:
        return _message(
            404,
            "Event not found",
            "We cannot find a roadshow event with this code. Check the address on "
            "the poster or slide.",
        )
    progress.enter_event(found.wave.slug, found.id)
    return redirect(url_for("survey.start", slug=found.wave.slug), 303)


# --------------------------------------------------------------------------- pages


@bp.get("/s/<slug>")
def start(slug: str):
    wave, instrument = _answering_wave(slug)
    pages = pages_of(instrument)
    event_place = None
    event_id = progress.entry(slug).get("ev")
    if wave.mode is WaveMode.EVENT and event_id:
        found = db.session.get(Event, event_id)
        event_place = found.place if found is not None else None
    texts = _texts(slug, instrument)
    answers = _answers(wave)
    resume_at = None
    if answers:
        unanswered = [
            p.number
            for p in _asked_pages(instrument, answers)
            if not set(p.field_ids) & set(answers)
        ]
        resume_at = (
            url_for("survey.page", slug=slug, number=unanswered[0])
            if unanswered
            else url_for("survey.check", slug=slug)
        )
    return render_template(
        "survey/start.html",
        title=texts.title,
        wave=wave,
        instrument=instrument,
        texts=texts,
        languages=[
            {"code": code, "name": name, "lang": html_lang(code), "current": code == texts.language}
            for code, name in languages(instrument)
        ]
        if instrument.translations
        else [],
        **_language_context(texts),
        resume_at=resume_at,
        audience_text=AUDIENCE_TEXT.get(wave.audience, wave.audience),
        pages=pages,
        closes_on=_date(wave.closes_on),
        event_place=event_place,
        question_count=len(instrument.answer_items),
    )


def _render_page(
    wave: WaveFacts,
    instrument: Instrument,
    page: Page,
    pages: list[Page],
    form,
    status: int = 200,
    problems: list[Problem] | None = None,
    notice: str | None = None,
    *,
    texts: Localised,
    answers: dict[str, str],
):
    change = request.args.get("change") == "1"
    earlier = [p.number for p in _asked_pages(instrument, answers) if p.number < page.number]
    back = (
        url_for("survey.check", slug=wave.slug)
        if change
        else url_for("survey.page", slug=wave.slug, number=earlier[-1])
        if earlier
        else url_for("survey.start", slug=wave.slug)
    )
    errors = [{"text": p.message, "href": f"#{p.field_id}"} for p in problems or []]
    for fid in page.field_ids:
        if form[fid].errors:
            errors.append({"text": form[fid].errors[0], "href": f"#{form[fid].id}"})
    heading = texts.section(page.heading) if page.heading != instrument.title else texts.title
    title = f"{'Error: ' if errors else ''}{heading} – {texts.title}"
    return make_response(
        render_template(
            "survey/page.html",
            title=title,
            heading=heading,
            texts=texts,
            wave=wave,
            instrument=instrument,
            page=page,
            pages=pages,
            form=form,
            errors=errors,
            back_link=back,
            notice=notice,
            submit_field=SUBMIT_FIELD,
            change=change,
            **_language_context(texts),
        ),
        status,
    )


@bp.route("/s/<slug>/<int:number>", methods=["GET", "POST"])
def page(slug: str, number: int):
    wave, instrument = _answering_wave(slug)
    whole, pages = _page_or_404(instrument, number)
    texts = _texts(slug, instrument)
    answers = _answers(wave)
    kept, _ = asked(instrument, answers)
    current = asked_on(instrument, whole, kept)
    if not current.field_ids:
        # Nothing on this page applies to this respondent: on to the next page that does.
        return redirect(_next_page(wave.slug, instrument, kept, number), 303)
    form_class = page_form(instrument, current, texts=texts)
    if request.method == "GET":
        form = form_class(
            formdata=None, data={f: answers[f] for f in current.field_ids if f in answers}
        )
        return _render_page(wave, instrument, current, pages, form, texts=texts, answers=kept)

    form = form_class()
    if g.get("csrf_failed"):
        return _render_page(
            wave,
            instrument,
            current,
            pages,
            form,
            notice=(
                "Your session timed out, so this page's answers have not been saved yet. "
                "Check them below and select Continue."
            ),
            texts=texts,
            answers=kept,
        )
    allowed = set(current.field_ids) | {"csrf_token", SUBMIT_FIELD}
    unexpected = sorted(k for k in request.form if k not in allowed)
    repeated = sorted(
        k for k in request.form if len(request.form.getlist(k)) > 1 and k not in current.multi_ids
    )
    if unexpected or repeated:
        problems = [
            Problem(
                current.field_ids[0] if current.field_ids else "main-content",
                "The form sent answers this page does not ask for, so nothing was "
                "saved. Answer the questions below and select Continue.",
            )
        ]
        return _render_page(
            wave,
            instrument,
            current,
            pages,
            form,
            status=400,
            problems=problems,
            texts=texts,
            answers=kept,
        )
    if not form.validate():
        return _render_page(wave, instrument, current, pages, form, texts=texts, answers=kept)
    entered, problems = redact_for_draft(current, form.answers())
    if problems:
        for problem in problems:  # shown by the field as well as in the summary
            form[problem.field_id].errors.append(problem.message)
        return _render_page(wave, instrument, current, pages, form, texts=texts, answers=kept)
    others = {f: v for f, v in answers.items() if f not in current.field_ids}
    # A changed answer may mean later questions no longer apply: their answers go now
    # (never sent for a question the respondent was not asked), and the check page says so.
    now, _ = asked(instrument, {**others, **entered})
    removed = [f for f in others if f not in now]
    try:
        progress.save_answers(slug, wave.id, now)
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("a survey page's answers could not be saved")
        return _render_page(
            wave,
            instrument,
            current,
            pages,
            form,
            status=503,
            notice=PAGE_NOT_SAVED_NOTICE,
            texts=texts,
            answers=kept,
        )
    if request.args.get("change") == "1":
        # A changed answer may also bring in routed questions not asked before: the pages
        # that now ask them, still unanswered, come next, then the check page.
        new = [
            p.number
            for p in _asked_pages(instrument, now)
            if p.number > number
            and not set(p.field_ids) & set(now)
            and any(conditions_of(instrument, item) for item in p.items)
        ]
        if new:
            return redirect(url_for("survey.page", slug=slug, number=new[0], change=1), 303)
        return redirect(_check_url(slug, removed), 303)
    return redirect(_next_page(slug, instrument, now, number, removed), 303)


def _check_url(slug: str, removed: list[str]) -> str:
    return url_for("survey.check", slug=slug, removed=",".join(removed) or None)


def _next_page(
    slug: str,
    instrument: Instrument,
    answers: dict[str, str],
    after: int,
    removed: list[str] = (),  # type: ignore[assignment]
) -> str:
    later = [p.number for p in _asked_pages(instrument, answers) if p.number > after]
    if later:
        return url_for("survey.page", slug=slug, number=later[0])
    return _check_url(slug, list(removed))


def _summary_rows(
    slug: str, instrument: Instrument, answers: dict[str, Any], texts: Localised
) -> list[dict]:
    """The check page's rows: only the questions asked, given the answers."""
    sections = []
    for p in _asked_pages(instrument, answers):
        rows = []
        items = [(item.id, texts.text(item)) for item in p.items]
        for fid, text in items:
            shown = display_value(instrument, fid, answers.get(fid), texts)
            rows.append(
                {
                    "key": {"text": text},
                    "value": {"text": shown}
                    if shown
                    else {
                        "html": '<span class="govuk-hint govuk-!-margin-bottom-0">Not answered</span>'
                    },
                    "actions": {
                        "items": [
                            {
                                "href": url_for("survey.page", slug=slug, number=p.number, change=1)
                                + f"#{fid}",
                                "text": "Change",
                                "visuallyHiddenText": f"your answer to: {text}",
                            }
                        ]
                    },
                }
            )
        heading = "Your answers" if p.heading == instrument.title else texts.section(p.heading)
        sections.append({"heading": heading, "rows": rows, "number": p.number})
    return sections


def _render_check(
    wave: WaveFacts,
    instrument: Instrument,
    answers: dict[str, str] | None,
    status: int = 200,
    problems: list[Problem] | None = None,
    notice: str | None = None,
    digest: bytes | None = None,
):
    """The check-answers page; ``answers`` None when they cannot be read just now (the
    database is away): the form is shown without them, to be sent again. With the
    ``digest`` of the draft they were read from, an open or event link's form carries
    their prepared held row (:func:`_send_prepared`)."""
    form = CheckAnswersForm()  # a posted form keeps its idempotency key, see below
    # A form shown again after a failed send keeps its key: if the failed send was in fact
    # stored (the database committed, then the connection broke before it said so), sending
    # again is then recognised as the same submission instead of stored a second time.
    posted = form.submission_key.data
    key = posted if posted and progress.knows_key(wave.slug, posted) else secrets.token_urlsafe(18)
    progress.remember_key(wave.slug, key)
    form.submission_key.data = key
    prepared = None
    if digest is not None and answers and wave.mode is not WaveMode.INVITE:
        prepared = prepare_submission(
            wave.id,
            instrument,
            answers,
            digest=digest,
            submission_key=key,
            event_id=_event_id(wave),
            day=_today(),
        )
    form.prepared.data = prepared or ""
    errors = [
        {
            "text": p.message,
            "href": url_for("survey.page", slug=wave.slug, number=p.page, change=1)
            + f"#{p.field_id}",
        }
        for p in problems or []
    ]
    texts = _texts(wave.slug, instrument)
    shown = _asked_pages(instrument, answers or {})
    last = shown[-1].number if shown else len(pages_of(instrument))
    return make_response(
        render_template(
            "survey/check.html",
            title=f"{'Error: ' if errors else ''}Check your answers – {texts.title}",
            wave=wave,
            instrument=instrument,
            texts=texts,
            sections=_summary_rows(wave.slug, instrument, answers, texts)
            if answers is not None
            else None,
            form=form,
            errors=errors,
            notice=notice or _removed_notice(instrument, answers or {}, texts),
            back_link=url_for("survey.page", slug=wave.slug, number=last),
            **_language_context(texts),
        ),
        status,
    )


def _removed_notice(
    instrument: Instrument, answers: dict[str, str], texts: Localised
) -> str | None:
    """After a change that made later questions not apply (``?removed=`` names them): which
    answers were removed. Only ids of this survey's questions that are not asked now are
    named, so the address cannot put other words on the page."""
    named = (request.args.get("removed") or "").split(",")
    _, not_asked = asked(instrument, answers)
    items: dict[str, Question | Attribute] = {q.id: q for q in instrument.answer_items}
    items.update({a.id: a for a in instrument.attributes})
    gone = [
        quoted(texts.text(items[f])) for f in dict.fromkeys(named) if f in items and f in not_asked
    ]
    if not gone:
        return None
    return (
        "Your answers to these questions were removed, because after the answer you changed "
        f"they no longer apply to you: {'; '.join(gone)}."
    )


@bp.route("/s/<slug>/check", methods=["GET", "POST"])
def check(slug: str):
    if request.method == "POST" and progress.key_was_sent(request.form.get("submission_key", "")):
        return redirect(url_for("survey.done", slug=slug), 303)  # sent already: no duplicate
    if request.method == "POST":
        sent = _send_prepared(slug)
        if sent is not None:
            return sent
    try:
        wave, instrument = _answering_wave(slug)
        answers, digest = _draft(wave)
    except SQLAlchemyError:
        # The database is unreachable before anything could be stored: say so, with the
        # form to send again (the answers are safe in the draft, but out of reach to show),
        # instead of an error page.
        db.session.rollback()
        current_app.logger.warning("survey check page without a database")
        if request.method != "POST":
            raise
        snapshot = last_known_wave_facts(slug)
        cached = _cached_instrument(snapshot) if snapshot is not None else None
        if snapshot is None or cached is None:
            return _message(
                503,
                "Your answers were not saved, please try again",
                "We could not reach our database just now. Your answers so far are "
                "kept: go back and select Send my answers again in a minute.",
            )
        return _render_check(snapshot, cached, None, status=503, notice=UNREACHABLE_NOTICE)
    if request.method == "GET":
        return _render_check(wave, instrument, answers, digest=digest)
    if g.get("csrf_failed"):
        return _render_check(
            wave,
            instrument,
            answers,
            notice=(
                "Your session timed out before your answers were sent. Your answers are below: "
                "check them and select Send my answers again."
            ),
        )
    # CSRFProtect has checked the token before this view; the key is all the form carries,
    # so no form object is built unless a page is shown again.
    key = request.form.get("submission_key", "")
    if not progress.knows_key(slug, key):
        return _render_check(
            wave,
            instrument,
            answers,
            status=400,
            notice=("Your answers have not been sent yet. Check them and select Send my answers."),
        )
    if not answers:
        if submission_stored(key):  # sent, the draft deleted with it, the reply lost
            progress.mark_sent(slug, key)
            return redirect(url_for("survey.done", slug=slug), 303)
        # A draft of a wave that has closed never opens: if this process's copy of the wave
        # is out of date, say that it closed rather than that nothing was answered.
        forget_wave(slug)
        _open_wave(slug)
    token = progress.entry(slug).get("tok") if wave.mode is WaveMode.INVITE else None
    event_id = _event_id(wave)
    over = g.pop("over_submit_limit", None)  # counted already by _send_prepared
    if over if over is not None else _over_submit_limit(wave, event_id):
        return _too_many_sends(wave, instrument, answers)
    handle = progress.handle(slug)
    try:
        store_submission(
            wave,
            instrument,
            answers,
            submission_key=key,
            token=token,
            event_id=event_id,
            today=_today(),
            only_while_open=True,
            draft=handle,
        )
    except WaveNotOpen:  # closed since this process last read the wave: say so
        forget_wave(slug)
        _open_wave(slug)  # aborts with the page that explains it
        return _render_check(wave, instrument, answers, status=503, notice=NOT_SAVED_NOTICE)
    except Duplicate:
        progress.mark_sent(slug, key)
        return redirect(url_for("survey.done", slug=slug), 303)
    except AlreadyUsed:
        _discard_draft(handle)  # answers that can never be sent are not kept
        progress.put(slug, None)
        return _message(
            200,
            "This link has already been used",
            "Answers have already been sent from this personal link, and each link "
            "can only be used once, so these answers were not saved. "
            "Thank you for taking part.",
            title="Link already used",
        )
    except Invalid as invalid:  # e.g. nothing answered, a required question skipped
        return _render_check(wave, instrument, answers, problems=invalid.problems)
    except NotSaved:
        current_app.logger.exception("a survey submission could not be stored")
        return _render_check(wave, instrument, answers, status=503, notice=NOT_SAVED_NOTICE)
    progress.mark_sent(slug, key)
    return redirect(url_for("survey.done", slug=slug), 303)


def _send_prepared(slug: str):
    """The send of a check page whose form carries its prepared held row
    (:mod:`survey_app.ingestion.prepared`): held in one statement, without reading the
    draft again. None when there is none, it does not hold (the draft changed, a new
    day, another secret) or the database failed: the ordinary send then follows, which
    reads the draft and says what went wrong. A send over the brake is counted once, here,
    and refused by the ordinary send with the answers shown."""
    text = request.form.get("prepared")
    key = request.form.get("submission_key", "")
    if not text or g.get("csrf_failed") or not progress.knows_key(slug, key):
        return None
    try:
        wave, _ = _answering_wave(slug)
    except SQLAlchemyError:
        db.session.rollback()
        return None
    handle = progress.handle(slug)
    if wave.mode is WaveMode.INVITE or handle is None:
        return None
    event_id, today = _event_id(wave), _today()
    prepared = read_prepared(
        text, wave_id=wave.id, event_id=event_id, day=today, submission_key=key
    )
    if prepared is None:
        return None
    if _over_submit_limit(wave, event_id):
        g.over_submit_limit = True
        return None
    g.over_submit_limit = False
    try:
        held = store_prepared(wave, prepared, submission_key=key, draft=handle, today=today)
    except Duplicate:
        held = True
    except NotSaved:
        current_app.logger.warning("a prepared submission could not be stored; sending it again")
        return None
    if not held:
        return None
    progress.mark_sent(slug, key)
    return redirect(url_for("survey.done", slug=slug), 303)


def _discard_draft(handle: drafts.DraftHandle | None) -> None:
    if handle is None:
        return
    try:
        drafts.discard(handle)
    except SQLAlchemyError:  # left for the purge when the wave closes
        current_app.logger.warning("a draft that can no longer be sent was not deleted")


@bp.get("/s/<slug>/done")
def done(slug: str):
    wave = wave_facts(slug)
    if wave is None or not progress.sent_already(slug):
        return redirect(url_for("survey.start", slug=slug), 303)
    return render_template(
        "survey/done.html",
        title="Answers sent",
        wave=wave,
        instrument=_instrument(wave),
        start_again=_start_again_form(wave),
    )


@bp.post("/s/<slug>/again")
def start_again(slug: str):
    """The next person at a shared device (a roadshow kiosk): a fresh start on the same
    event. A personal link has no next person."""
    wave, instrument = _open_wave(slug)
    if wave.mode is WaveMode.INVITE or g.get("csrf_failed"):
        return (
            _sent_page(wave, instrument)
            if progress.sent_already(slug)
            else redirect(url_for("survey.start", slug=slug), 303)
        )
    progress.start_again(slug)
    return redirect(url_for("survey.start", slug=slug), 303)


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


def _too_many_sends(wave: WaveFacts, instrument: Instrument, answers: dict[str, str]):
    """Too many submissions from one address: the answers stay, with a plain message."""
    return _render_check(
        wave,
        instrument,
        answers,
        status=429,
        notice=(
            "A lot of answers to this survey have been sent in the last few minutes, so these "
            "have not been sent yet. Your answers are still here: wait a few "
            "minutes and select Send my answers again."
        ),
    )
