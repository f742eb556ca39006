"""Answers in progress, kept server-side and sealed to the respondent's browser.

A draft is opened by a :class:`DraftHandle`: a random 128-bit draft id and a 256-bit browser
secret, held only in the respondent's signed session cookie (never in the database, a log or
a link the service sends, except the resume link a respondent asks to have e-mailed to
themselves). The ``draft`` row is keyed by SHA-256(draft id) and its answers are sealed with
AES-256-GCM under ``HKDF(server secret, "draft", draft id ‖ browser secret)``
(:mod:`survey_app.crypto`), padded to a few fixed sizes, with the row's key and wave bound in
as associated data. So:

* a database reader sees a wave id and a padded ciphertext: no token, invitation, address,
  time or length that says whose it is or what it says;
* someone who can rebuild a personal link (tokens derive from the server secret) still lacks
  the browser secret, so staff opening a personal link, from the mail-merge or otherwise,
  never see a draft someone else started;
* a draft of a closed wave never opens, and :func:`purge_closed` deletes them.

Comments are redacted before they are sealed (by the caller, with the product's one
redaction function), so not even a draft holds what redaction removes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, cast

from flask import current_app
from sqlalchemy import Connection, CursorResult, Date, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from . import clock
from .crypto import SealBroken, derive_key, lookup_of, new_secret, seal, unseal
from .database import Executor, standalone_connection
from .extensions import db
from .models import Draft, Wave

_PURPOSE = "survey draft"
_ID_BYTES = 16

# Core statements built once: a draft is read on every survey page and at every submit, and
# building and running an ORM query each time cost more than the query and the crypto.
_DRAFT = Draft.__table__
_WAVE = Wave.__table__
_OPEN_DRAFT = (
    select(_DRAFT.c.sealed)
    .join(_WAVE, _WAVE.c.id == _DRAFT.c.wave_id)
    .where(
        _DRAFT.c.lookup == bindparam("lookup"),
        _DRAFT.c.wave_id == bindparam("wave_id"),
        _WAVE.c.closes_on >= bindparam("today", type_=Date),
    )
)
# (An UPDATE's bound names must differ from its columns' names.)
_RESEAL = (
    update(_DRAFT)
    .where(_DRAFT.c.lookup == bindparam("row_lookup"), _DRAFT.c.wave_id == bindparam("row_wave"))
    .values(sealed=bindparam("new_sealed"))
)
_INSERT = _DRAFT.insert()
_DELETE = delete(_DRAFT).where(_DRAFT.c.lookup == bindparam("lookup"))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str, length: int) -> bytes:
    """Unpadded URL-safe base64 of exactly ``length`` bytes; :class:`ValueError` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not URL-safe base64") from exc
    if len(raw) != length:
        raise ValueError(f"expected {length} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class DraftHandle:
    """What opens one draft: its id and the browser secret, both random."""

    draft_id: bytes
    secret: bytes

    @classmethod
    def new(cls) -> DraftHandle:
        return cls(secrets.token_bytes(_ID_BYTES), new_secret())

    @property
    def lookup(self) -> str:
        """The row's key: SHA-256 of the draft id, from which the id cannot be recovered."""
        return lookup_of(self.draft_id).hex()

    def to_session(self) -> dict[str, str]:
        return {"d": _encode(self.draft_id), "s": _encode(self.secret)}

    @classmethod
    def from_session(cls, entry: dict[str, Any]) -> DraftHandle | None:
        """The handle kept in a session entry, or None if it has none (or a malformed one)."""
        try:
            return cls(_decode(str(entry["d"]), _ID_BYTES), _decode(str(entry["s"]), 32))
        except (KeyError, ValueError):
            return None

    def to_code(self) -> str:
        """The handle as one URL-safe string, for a resume link."""
        return f"{_encode(self.draft_id)}.{_encode(self.secret)}"

    @classmethod
    def from_code(cls, code: str) -> DraftHandle | None:
        draft_id, _, secret = code.partition(".")
        return cls.from_session({"d": draft_id, "s": secret})


def _associated(handle: DraftHandle, wave_id: int) -> bytes:
    # Binds a ciphertext to its row and wave: one copied onto another row does not open.
    return f"draft\x00{handle.lookup}\x00{wave_id}".encode("ascii")


def _key(secret: str | bytes, handle: DraftHandle) -> bytes:
    return derive_key(secret, _PURPOSE, handle.draft_id + handle.secret)


def _server_secrets() -> list[str | bytes]:
    """The current ``SECRET_KEY`` first, then its fallbacks: drafts sealed before a key
    rotation still open (and are sealed again with the current key when next saved)."""
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]


def _sealed_answers(handle: DraftHandle, wave_id: int, answers: dict[str, str]) -> bytes:
    plaintext = json.dumps({"a": answers}, ensure_ascii=False, separators=(",", ":"))
    return seal(
        _key(_server_secrets()[0], handle), plaintext.encode("utf-8"), _associated(handle, wave_id)
    )


@dataclass(frozen=True)
class OpenedDraft:
    """A draft's answers, and the SHA-256 of the ciphertext they came from (which names
    this state of the draft: any save changes it, since every seal takes a fresh nonce)."""

    answers: dict[str, str]
    digest: bytes


def ciphertext_digest(sealed: bytes) -> bytes:
    """SHA-256 of a draft's ciphertext (PostgreSQL's ``sha256()`` gives the same)."""
    return sha256(sealed).digest()


def sealed_draft(
    handle: DraftHandle, wave_id: int, today: dt.date, connection: Executor | None = None
) -> bytes | None:
    """The ciphertext of ``handle``'s draft in wave ``wave_id`` if the wave has not closed
    before ``today``, on ``connection`` (default: a standalone one, else the session's)."""
    connection = connection or standalone_connection() or db.session.connection()
    return connection.execute(
        _OPEN_DRAFT, {"lookup": handle.lookup, "wave_id": wave_id, "today": today}
    ).scalar()


def open_draft(handle: DraftHandle, wave_id: int, today: dt.date) -> OpenedDraft | None:
    """``handle``'s draft in wave ``wave_id``, or None if there is none, it belongs to
    another wave, the wave has closed before ``today``, or it does not open with this
    handle (a forged or stale cookie). Database errors propagate."""
    sealed = sealed_draft(handle, wave_id, today)
    if sealed is None:
        return None
    for secret in _server_secrets():
        try:
            opened = json.loads(unseal(_key(secret, handle), sealed, _associated(handle, wave_id)))
        except SealBroken:
            continue
        answers = opened.get("a") if isinstance(opened, dict) else None
        if isinstance(answers, dict):
            return OpenedDraft(
                {str(k): str(v) for k, v in answers.items()}, ciphertext_digest(sealed)
            )
        return None
    return None


def load(handle: DraftHandle, wave_id: int, today: dt.date) -> dict[str, str] | None:
    """The answers of ``handle``'s draft (see :func:`open_draft`), or None."""
    found = open_draft(handle, wave_id, today)
    return found.answers if found is not None else None


def _reseal(row: dict[str, Any]) -> dict[str, Any]:
    return {"row_lookup": row["lookup"], "row_wave": row["wave_id"], "new_sealed": row["sealed"]}


def save(handle: DraftHandle, wave_id: int, answers: dict[str, str]) -> None:
    """Seal ``answers`` as ``handle``'s draft in wave ``wave_id`` and commit (one UPDATE, or
    an INSERT for a new draft). Database errors propagate, after a rollback."""
    row = {"lookup": handle.lookup, "wave_id": wave_id}
    row["sealed"] = _sealed_answers(handle, wave_id, answers)
    standalone = standalone_connection()
    if standalone is not None:  # PostgreSQL: each statement commits by itself
        if standalone.execute(_RESEAL, _reseal(row)).rowcount == 0:
            try:
                standalone.execute(_INSERT, row)
            except IntegrityError:  # the same new draft saved twice at once, see below
                standalone.execute(_RESEAL, _reseal(row))
        return
    try:
        if db.session.connection().execute(_RESEAL, _reseal(row)).rowcount == 0:
            db.session.connection().execute(_INSERT, row)
        db.session.commit()
    except IntegrityError:
        # The same new draft saved twice at once (two tabs): the other insert won; this
        # one's answers are the newer, so write them over it.
        db.session.rollback()
        db.session.connection().execute(_RESEAL, _reseal(row))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def delete_on(connection: Connection, handle: DraftHandle) -> None:
    """Delete ``handle``'s draft on ``connection``, in the caller's transaction (the holding
    transaction deletes it with the submission it holds)."""
    connection.execute(_DELETE, {"lookup": handle.lookup})


def discard(handle: DraftHandle) -> None:
    """Delete ``handle``'s draft and commit (answers that can no longer be sent)."""
    try:
        delete_on(db.session.connection(), handle)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def rekey(
    handle: DraftHandle, wave_id: int, today: dt.date
) -> tuple[DraftHandle, dict[str, str]] | None:
    """Move a draft to a new handle (the old row is deleted, the answers sealed again under
    the new one), in one transaction; the new handle and the answers, or None if the old
    handle opens nothing in that wave. A resume link is used this way, so it works once."""
    answers = load(handle, wave_id, today)
    if answers is None:
        db.session.rollback()
        return None
    fresh = DraftHandle.new()
    try:
        gone = cast(
            "CursorResult[Any]",
            db.session.execute(
                delete(Draft)
                .where(Draft.lookup == handle.lookup)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if gone != 1:  # used at the same moment elsewhere: that one has it
            db.session.rollback()
            return None
        db.session.execute(
            Draft.__table__.insert().values(
                lookup=fresh.lookup,
                wave_id=wave_id,
                sealed=_sealed_answers(fresh, wave_id, answers),
            )
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return fresh, answers


def wave_of(handle: DraftHandle) -> int | None:
    """The wave a draft belongs to (a resume link names no wave), or None."""
    return db.session.scalar(select(Draft.wave_id).where(Draft.lookup == handle.lookup))


def purge_closed(today: dt.date | None = None) -> int:
    """Delete the drafts of every wave that closed before ``today``; returns how many."""
    today = today or clock.today()
    closed = select(Wave.id).where(Wave.closes_on < today)
    gone = db.session.execute(
        delete(Draft).where(Draft.wave_id.in_(closed)).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return cast("CursorResult[Any]", gone).rowcount or 0
