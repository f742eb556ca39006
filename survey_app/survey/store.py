"""What the respondent pages need from the database: the wave behind a slug (cached per
process), and the submit, which goes through the one ingestion service
(``survey_app/ingestion``, re-exported here).

Invite respondents' answers in progress are also saved against their invitation so they can
resume from the same link; the saved draft is sealed with a key derived from the server
secret and the invitation, so the database holds no answer in clear, and deleted in the
transaction that holds the submission.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass, fields
from typing import Any

from flask import current_app
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.exc import SQLAlchemyError

from ..crypto import SealBroken, derive_key, seal, unseal
from ..extensions import db
from ..ingestion import (
    MIN_BATCH,
    AlreadyUsed,
    Duplicate,
    Invalid,
    NotSaved,
    WaveNotOpen,
    link_used,
    received_total,
    store_submission,
)
from ..ingestion import (
    release_held as release_held_submissions,
)
from ..ingestion import (
    validate as split_answers,
)
from ..models import Invitation, InviteDraft, Wave, WaveMode
from ..security import hash_token

__all__ = [
    "MIN_BATCH", "AlreadyUsed", "Duplicate", "Invalid", "NotSaved", "WaveFacts", "WaveNotOpen",
    "delete_invite_draft", "forget_wave", "last_known_wave_facts", "link_used", "load_draft",
    "purge_closed_drafts", "received_total", "release_held", "save_draft", "split_answers",
    "store_submission", "wave_facts",
]


@dataclass(frozen=True)
class WaveFacts:
    """What the respondent pages need to know of a wave, read with one light query (no ORM
    object)."""

    id: int
    slug: str
    mode: WaveMode
    audience: str
    opens_on: dt.date
    closes_on: dt.date
    instrument_version_id: int


_WAVE_FACTS = select(*(Wave.__table__.c[f.name] for f in fields(WaveFacts))).where(
    Wave.__table__.c.slug == bindparam("slug"))


def _wave_cache() -> dict[str, tuple[float, WaveFacts]]:
    return current_app.extensions.setdefault("pulse_wave_facts", {})


def wave_facts(slug: str) -> WaveFacts | None:
    """The wave behind ``slug``, or None. Kept in this process for ``WAVE_CACHE_SECONDS``
    (0: read every time), so that a respondent's requests do not each read the wave.

    A cached copy can be that many seconds out of date in other processes when a wave is
    changed (this process forgets it at once, see :func:`forget_wave`). Nothing is stored
    on the strength of a stale copy: a web submission checks that its wave is open in the
    storing transaction (``store_submission(..., only_while_open=True)``), and a wave's
    way in and survey version cannot change once it has started."""
    cache, now = _wave_cache(), time.monotonic()
    cached = cache.get(slug)
    if cached is not None and now - cached[0] < current_app.config.get("WAVE_CACHE_SECONDS", 0):
        return cached[1]
    row = db.session.connection().execute(_WAVE_FACTS, {"slug": slug}).first()
    if row is None:  # unknown slugs are not kept: anyone can make up any number of them
        cache.pop(slug, None)
        return None
    facts = WaveFacts(*row)
    cache[slug] = (now, facts)
    return facts


def last_known_wave_facts(slug: str) -> WaveFacts | None:
    """The wave as last read by this process, however long ago, without the database: lets
    a submit show the answers with a "not saved" message when the database is away."""
    cached = _wave_cache().get(slug)
    return cached[1] if cached is not None else None


def forget_wave(slug: str) -> None:
    """Drop this process's copy of a wave that has just been changed."""
    _wave_cache().pop(slug, None)


def release_held(wave_id: int | None = None, min_batch: int = MIN_BATCH, force: bool = False,
                 today: dt.date | None = None) -> int:
    """Release held submissions (see :func:`survey_app.ingestion.release_held`), then delete
    the saved drafts of waves that have closed. Returns how many were released."""
    released = release_held_submissions(wave_id, min_batch=min_batch, force=force, today=today)
    purge_closed_drafts(today)
    return released


# --------------------------------------------------------------------------- save and resume


def _unused_invitation(wave: Wave | WaveFacts, token: str) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(
        Invitation.token_hash == hash_token(token), Invitation.wave_id == wave.id,
        Invitation.used.is_(False)))


_DRAFT_PURPOSE = "invite-draft"


def _draft_key(invitation_id: int) -> bytes:
    return derive_key(current_app.config["SECRET_KEY"], _DRAFT_PURPOSE, str(invitation_id).encode())


def _sealed_answers(invitation_id: int, answers: dict[str, Any]) -> dict[str, str]:
    """The draft's answers as stored: sealed (AES-GCM, padded) under a key derived from the
    server secret and the invitation, inside the JSON column."""
    plain = json.dumps(answers, separators=(",", ":")).encode("utf-8")
    sealed = seal(_draft_key(invitation_id), plain, str(invitation_id).encode())
    return {"sealed": base64.b64encode(sealed).decode("ascii")}


def _opened_answers(invitation_id: int, stored: dict[str, Any]) -> dict[str, Any] | None:
    try:
        sealed = base64.b64decode(stored["sealed"])
        return dict(json.loads(unseal(_draft_key(invitation_id), sealed, str(invitation_id).encode())))
    except (KeyError, ValueError, SealBroken):  # made with another secret: nothing to resume
        return None


def save_draft(wave: Wave | WaveFacts, token: str, answers: dict[str, Any]) -> bool:
    """Keep an invite respondent's answers so far against their (unused) invitation, sealed,
    so they can finish later from the same link. Returns whether it was saved."""
    try:
        invitation = _unused_invitation(wave, token)
        if invitation is None:
            db.session.rollback()
            return False
        stored = _sealed_answers(invitation.id, dict(answers))
        draft = db.session.get(InviteDraft, invitation.id)
        if draft is None:
            db.session.add(InviteDraft(invitation_id=invitation.id, answers=stored))
        else:
            draft.answers = stored
        db.session.commit()
        return True
    except SQLAlchemyError:
        db.session.rollback()  # the answers are still in the session: not lost
        return False


def load_draft(invitation: Invitation) -> dict[str, Any] | None:
    draft = db.session.get(InviteDraft, invitation.id)
    return _opened_answers(invitation.id, draft.answers) if draft is not None else None


def delete_invite_draft(token: str, connection: Connection) -> None:
    """Delete the saved draft of ``token``'s invitation on ``connection`` (passed as the
    submit's ``also_in_transaction``, so it goes in the transaction that holds the answers)."""
    connection.execute(delete(InviteDraft.__table__).where(
        InviteDraft.__table__.c.invitation_id.in_(
            select(Invitation.id).where(Invitation.token_hash == bindparam("token_hash")))),
        {"token_hash": hash_token(token)})


def purge_closed_drafts(today: dt.date | None = None) -> int:
    """Delete the drafts of every wave that has closed; returns how many."""
    today = today or dt.date.today()
    closed = select(Invitation.id).join(Wave, Wave.id == Invitation.wave_id).where(Wave.closes_on < today)
    gone = db.session.execute(
        delete(InviteDraft).where(InviteDraft.invitation_id.in_(closed))
        .execution_options(synchronize_session=False))
    db.session.commit()
    return gone.rowcount or 0
