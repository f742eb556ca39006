"""Helpers for the respondent-side tests: waves, invitations, and a respondent that answers
a survey through HTTP the way a browser without JavaScript would."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from instruments import load_definitions
from survey_app import clock
from survey_app.database import app_engines
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Answer, Event, InstrumentVersion, Invitation, Wave, WaveMode
from survey_app.security import hash_token, new_token
from survey_app.survey.forms import pages_of

MODES = {
    "member-pulse": WaveMode.INVITE,
    "partner-survey": WaveMode.INVITE,
    "staff-pulse": WaveMode.OPEN,
    "resident-perception": WaveMode.OPEN,
    "staff-roadshow": WaveMode.EVENT,
}


def make_wave(
    instrument_id: str,
    mode: WaveMode | None = None,
    *,
    opens: int = -3,
    closes: int = 10,
    label: str = "2026-Q4",
    instrument=None,
) -> Wave:
    """A wave of a shipped instrument (or ``instrument``) that opened ``-opens`` days ago."""
    if instrument is not None:
        from survey_app.definitions import store_instrument_version

        store_instrument_version(instrument)
        db.session.commit()
    elif db.session.scalar(select(InstrumentVersion).limit(1)) is None:
        load_instruments(load_definitions())
    version = db.session.scalar(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == instrument_id)
        .order_by(InstrumentVersion.id.desc())
        .limit(1)
    )
    mode = mode or MODES.get(instrument_id, WaveMode.OPEN)
    today = clock.today()  # the app's day (Europe/London)
    wave = Wave(
        label=label,
        instrument_version=version,
        audience=version.audience,
        mode=mode,
        opens_on=today + dt.timedelta(days=opens),
        closes_on=today + dt.timedelta(days=closes),
    )
    if mode is WaveMode.EVENT:
        wave.events = [
            Event(code=f"{label.replace('-', '').lower()}x{i}", place=f"Hall {i}", held_on=today)
            for i in (1, 2)
        ]
    db.session.add(wave)
    db.session.commit()
    return wave


def make_tokens(wave: Wave, n: int) -> list[str]:
    tokens = [new_token() for _ in range(n)]
    db.session.add_all(Invitation(wave_id=wave.id, token_hash=hash_token(t)) for t in tokens)
    db.session.commit()
    return tokens


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_KEY = re.compile(r'name="submission_key" type="hidden" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF token on the page"
    return html.unescape(match.group(1))


def key_of(page: str) -> str:
    match = _KEY.search(page)
    assert match, "no submission key on the page"
    return html.unescape(match.group(1))


def full_answers(instrument, seed: int = 0) -> dict[str, str]:
    """A plausible answer to every question and attribute, as posted by the radios."""
    answers: dict[str, str] = {}
    for i, question in enumerate(instrument.questions):
        if question.type == "scale":
            k = instrument.scale_of(question).k
            answers[question.id] = str((i + seed) % k + 1)
        elif question.type == "choice":
            answers[question.id] = question.choices[(i + seed) % len(question.choices)]
        else:
            answers[question.id] = f"Comment {seed} on {question.id}"
    for j, attribute in enumerate(instrument.attributes):
        answers[attribute.id] = attribute.choices[(j + seed) % len(attribute.choices)]
    return answers


def answer_pages(client, slug: str, instrument, answers: dict[str, Any]) -> str:
    """Post every page of the survey; returns the check-answers page."""
    for page in pages_of(instrument):
        form_page = client.get(f"/s/{slug}/{page.number}")
        assert form_page.status_code == 200, form_page.get_data(as_text=True)[:500]
        data = {"csrf_token": csrf_of(form_page.get_data(as_text=True))}
        data.update({f: answers[f] for f in page.field_ids if f in answers})
        posted = client.post(f"/s/{slug}/{page.number}", data=data)
        assert posted.status_code == 303, posted.get_data(as_text=True)
    check = client.get(f"/s/{slug}/check")
    assert check.status_code == 200
    return check.get_data(as_text=True)


_HIDDEN_INPUT = re.compile(r'<input[^>]*type="hidden"[^>]*>')
_ATTRIBUTE = re.compile(r'(name|value)="([^"]*)"')


def send_form_of(page: str, slug: str) -> dict[str, str]:
    """The hidden fields of the check page's send form, as a browser posts them (CSRF
    token, idempotency key and, for an open or event link, the prepared submission)."""
    match = re.search(
        rf'<form[^>]*action="/s/{re.escape(slug)}/check"[^>]*>(.*?)</form>', page, re.S
    )
    assert match, "no send form on the page"
    fields = {}
    for tag in _HIDDEN_INPUT.findall(match.group(1)):
        attributes = dict(_ATTRIBUTE.findall(tag))
        fields[html.unescape(attributes["name"])] = html.unescape(attributes.get("value", ""))
    return fields


def send(client, slug: str, check_page: str):
    """Press "Send my answers" on ``check_page``."""
    return client.post(f"/s/{slug}/check", data=send_form_of(check_page, slug))


def release_all(app) -> int:
    """Release everything held (as ``survey release --all`` does): web submissions reach
    ``response`` only through the shuffled release."""
    from survey_app.survey.store import release_held

    with app.app_context():
        return release_held(force=True)


@contextmanager
def listening(app, event_name: str, listener: Callable[..., Any]) -> Iterator[None]:
    """``listener`` on ``event_name`` of every engine of ``app`` (the ORM's and, on
    PostgreSQL, the statement engine's) while the block runs."""
    with app.app_context():
        engines = app_engines()
    for engine in engines:
        event.listen(engine, event_name, listener)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, event_name, listener)


def released_answers(app) -> list[dict[str, str]]:
    """Every released response's answers, by question id, after releasing everything held."""
    release_all(app)
    with app.app_context():
        rows = db.session.execute(select(Answer.response_id, Answer.question_id, Answer.value))
        by_response: dict[str, dict[str, str]] = {}
        for response_id, question_id, value in rows:
            by_response.setdefault(response_id, {})[question_id] = value
        return list(by_response.values())
