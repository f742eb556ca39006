"""Finishing a personal-link survey on another device.

A draft opens only with the secret in the browser that started it, so a personal link
alone (from the mail-merge, say) resumes nothing. A respondent who wants to move on to
another device asks here for a resume link: it is e-mailed to an address they type (used for
that message and not kept), and carries their personal link's token with the draft's id and
browser secret in its query string (``/i/<token>?resume=<id>.<secret>``; the access log
records neither query strings nor ``/i/`` paths, see ``gunicorn.conf.py``). The server stores
none of it: the draft row is still keyed by the id's SHA-256. Opening the link moves the draft
to a fresh id and secret in the new browser (:func:`survey_app.survey.progress.resume`), so
the link works once.
"""

from __future__ import annotations

import smtplib

from flask import current_app, make_response, render_template
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..links import public_url
from ..mail import MailNotConfigured, send
from ..models import WaveMode
from . import bp, progress
from .forms import ResumeLinkForm
from .routes import _answering_wave, _answers, _date, _message
from .store import WaveFacts

#: Resume e-mails one browser may ask for in one survey: enough for a typo or two, not a
#: way to send mail to anyone at all.
MAX_RESUME_EMAILS = 5


def _message_text(title: str, link: str, closes_on: str) -> str:
    return (
        f"You asked for a link to finish the {title} on another device.\n\n"
        f"Open this link on that device:\n{link}\n\n"
        "Your answers so far will be there. The link works once: when you open it, your "
        "answers move to that device. It stops working when the survey closes on "
        f"{closes_on}.\n\n"
        "Your answers are not sent until you select Send my answers. If you did not ask for "
        "this email, you can ignore it.\n"
    )


@bp.route("/s/<slug>/resume-link", methods=["GET", "POST"])
def resume_link(slug: str):
    wave, instrument = _answering_wave(slug)
    if wave.mode is not WaveMode.INVITE:
        return _message(404, "Page not found", "This survey has no page at this address.")
    form = ResumeLinkForm()
    page = {
        "wave": wave,
        "instrument": instrument,
        "form": form,
        "errors": None,
        "closes_on": _date(wave.closes_on),
        "title": "Email me a link to finish later",
    }
    if not form.validate_on_submit():
        return render_template("survey/resume_link.html", **page)
    record = progress.entry(slug)
    if int(record.get("m", 0)) >= MAX_RESUME_EMAILS:
        return _page_with_notice(
            page,
            429,
            (
                "We have already sent several links from this browser, so we have not sent "
                "another. Use one of the links we sent, or finish in this browser."
            ),
        )
    try:
        handle = progress.save_answers(slug, wave.id, _answers(wave))
    except SQLAlchemyError:
        db.session.rollback()
        return _page_with_notice(
            page,
            503,
            (
                "We could not reach our database just now, so no link was sent. Your answers so "
                "far are kept: try again in a minute."
            ),
        )
    link = public_url("survey.invite", token=record["tok"], resume=handle.to_code())
    failed = _send_link(form.email.data, instrument.title, link, wave)
    if failed:
        return _page_with_notice(page, 503, failed)
    progress.put(slug, {**progress.entry(slug), "m": int(record.get("m", 0)) + 1})
    return render_template("survey/resume_link.html", sent_to=form.email.data, **page)


def _send_link(address: str, title: str, link: str, wave: WaveFacts) -> str | None:
    """Send the resume e-mail; None, or what to tell the respondent when it failed. The
    address and the link are never logged."""
    try:
        send(
            [
                (
                    address,
                    f"Your link to finish the {title}",
                    _message_text(title, link, _date(wave.closes_on)),
                )
            ]
        )
    except MailNotConfigured:
        return (
            "This service cannot send email just now, so no link was sent. Your answers "
            "so far are kept in this browser: finish here, or try again later."
        )
    except (smtplib.SMTPException, OSError) as exc:
        current_app.logger.warning("a resume link could not be sent (%s)", type(exc).__name__)
        return (
            "We could not send the email just now, so no link was sent. Your answers so "
            "far are kept in this browser: try again in a few minutes."
        )
    return None


def _page_with_notice(page: dict, status: int, notice: str):
    return make_response(
        render_template("survey/resume_link.html", **{**page, "notice": notice}), status
    )
