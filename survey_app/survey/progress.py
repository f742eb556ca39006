"""A respondent's progress through one survey, as their session cookie records it.

The cookie holds small, fixed-size things only, whatever the answers: per wave slug
(``session["pulse"][slug]``) the draft's handle (``d`` id, ``s`` browser secret), the
invitation token ``tok`` (moved here from a personal link), the roadshow event ``ev`` and
``keys``, the idempotency keys of check-answers forms shown, and ``lang``, the language chosen. ``session["answered"]`` lists the
slugs sent from this browser whose next respondent has not started yet, and
``session["done_keys"]`` the keys of recent sends. The answers themselves are in the sealed
server-side draft (:mod:`survey_app.drafts`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import session

from instruments import Instrument

from .. import drafts
from ..drafts import DraftHandle
from .forms import redact_text_answers

MAX_KEYS = 10


def entry(slug: str) -> dict[str, Any]:
    """A copy of this browser's record for the wave (empty if none)."""
    return dict(session.get("pulse", {}).get(slug, {}))


def put(slug: str, record: dict[str, Any] | None) -> None:
    """Replace (or with None, remove) this browser's record for the wave."""
    records = dict(session.get("pulse", {}))
    if record is None:
        records.pop(slug, None)
    else:
        records[slug] = record
    session["pulse"] = records


def _not_sent(slug: str) -> None:
    if slug in session.get("answered", []):
        session["answered"] = [s for s in session["answered"] if s != slug]


def enter_invitation(slug: str, token: str) -> None:
    """A personal link was opened: the same link keeps this browser's draft; another one
    (a second person's link on a shared device) starts afresh."""
    record = entry(slug)
    if record.get("tok") != token:
        put(slug, {"tok": token})
        _not_sent(slug)


def enter_event(slug: str, event_id: int) -> None:
    """A roadshow link was opened: the same event keeps this browser's state; another event
    starts afresh."""
    record = entry(slug)
    if record.get("ev") != event_id:
        put(slug, {"ev": event_id})
        _not_sent(slug)


def handle(slug: str) -> DraftHandle | None:
    return DraftHandle.from_session(entry(slug))


def answers(slug: str, wave_id: int, today: dt.date, instrument: Instrument) -> dict[str, str]:
    """The answers so far (empty if there is no draft, or it no longer opens). Database
    errors propagate: the caller says the page could not be loaded, it never shows a draft
    as empty when it is only out of reach."""
    return draft(slug, wave_id, today, instrument)[0]


def draft(
    slug: str, wave_id: int, today: dt.date, instrument: Instrument
) -> tuple[dict[str, str], bytes | None]:
    """:func:`answers`, and the digest of the draft ciphertext they came from (None when
    they came from elsewhere, or there are none)."""
    record = entry(slug)
    if "a" in record:  # a cookie written before drafts moved server-side: move them now
        legacy = redact_text_answers(
            instrument, {str(k): str(v) for k, v in dict(record.pop("a") or {}).items()}
        )
        put(slug, record)
        if legacy:
            save_answers(slug, wave_id, legacy)
        return legacy, None
    found = DraftHandle.from_session(record)
    opened = drafts.open_draft(found, wave_id, today) if found is not None else None
    return (opened.answers, opened.digest) if opened is not None else ({}, None)


def save_answers(slug: str, wave_id: int, answers: dict[str, str]) -> DraftHandle:
    """Seal the answers so far into this browser's draft, starting one if needed; returns
    the draft's handle."""
    record = entry(slug)
    found = DraftHandle.from_session(record)
    if found is None:
        found = DraftHandle.new()
        put(slug, {**record, **found.to_session()})
    drafts.save(found, wave_id, answers)
    return found


def resume(slug: str, wave_id: int, token: str, code: str, today: dt.date) -> bool:
    """Open a resume link's ``code`` for the personal link ``token``: the draft moves to a
    fresh handle held by this browser (so the link works once). Whether there was a draft
    to move; either way the personal link is this browser's now."""
    enter_invitation(slug, token)
    found = DraftHandle.from_code(code)
    moved = drafts.rekey(found, wave_id, today) if found is not None else None
    if moved is None:
        return False
    record = {k: v for k, v in entry(slug).items() if k not in {"d", "s", "keys"}}
    put(slug, {**record, **moved[0].to_session()})
    _not_sent(slug)
    return True


def language(slug: str) -> str | None:
    """The language this browser chose for the wave (``?lang=`` or the start page)."""
    return entry(slug).get("lang")


def choose_language(slug: str, code: str) -> None:
    record = entry(slug)
    if record.get("lang") != code:
        put(slug, {**record, "lang": code})


def remember_key(slug: str, key: str) -> None:
    record = entry(slug)
    keys = [k for k in record.get("keys", []) if k != key] + [key]
    record["keys"] = keys[-MAX_KEYS:]
    put(slug, record)


def knows_key(slug: str, key: str) -> bool:
    return key in entry(slug).get("keys", [])


def sent_already(slug: str) -> bool:
    """Whether answers were sent from this browser and no one has started again since."""
    return slug in session.get("answered", [])


def key_was_sent(key: str) -> bool:
    return key in session.get("done_keys", [])


def mark_sent(slug: str, key: str | None) -> None:
    """After a send: the draft is gone (the store deleted it with the submission), the
    event and token stay, so Back shows "sent" and a roadshow keeps its event."""
    answered = [s for s in session.get("answered", []) if s != slug] + [slug]
    session["answered"] = answered[-MAX_KEYS:]
    if key:
        session["done_keys"] = (list(session.get("done_keys", [])) + [key])[-MAX_KEYS:]
    record = {k: v for k, v in entry(slug).items() if k in {"tok", "ev", "lang"}}
    put(slug, record)


def start_again(slug: str) -> None:
    """The next person at a shared device: a fresh start, at the same roadshow event."""
    _not_sent(slug)
    record = {k: v for k, v in entry(slug).items() if k == "ev"}  # they choose their language
    put(slug, record)
