"""Submissions prepared when the check-answers page is shown, so that sending one is a
single statement.

Showing the check page reads the respondent's sealed draft anyway. For an open or event
link it then validates and redacts the answers (:func:`~.responses.validate`, as every
channel does), seals them as the held row they would become (:func:`~.holding.seal_submission`,
under a fresh random row id) and puts that in the page's form, with a SHA-256 of the
draft's ciphertext and an HMAC-SHA256 under a key derived from the server secret over
everything the send will rely on: the row id, the draft's digest, the sealed row, the wave,
the roadshow event, the day and the form's idempotency key.

Sending the form (:func:`store_prepared`) checks the HMAC and then, in one statement, deletes
the draft only if its ciphertext is still the one the page was made from (nothing changed in
another tab meanwhile) and the wave is open, claims the idempotency key and holds the
prepared row: the draft is not read, opened, validated and sealed again. Anything else (an
invitation, a page shown after a failed send, a changed draft, a new day, a rotated secret)
gets no prepared form or fails the check, and the send takes the ordinary path
(:func:`~survey_app.ingestion.store_submission`), which reads the draft.

The page holds nothing it did not already show: its answers are on it in clear, and the
prepared row is a ciphertext only the server can open. A forged or altered form fails the
HMAC, so no one can hold a row the server did not seal from their own draft.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import secrets
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    LargeBinary,
    bindparam,
    delete,
    func,
    select,
)

from instruments import Instrument

from .. import drafts
from ..database import DriverStatement, standalone_connection
from ..drafts import DraftHandle
from ..extensions import db
from ..models import Draft, SubmissionKey
from ..security import hash_token
from .errors import Invalid
from .holding import HOLD_ROW, held_row_after, seal_submission, server_keys
from .keys import CLAIM_KEY, claim_key_statement, execute_claiming, wave_open_on
from .responses import Submission, validate

_PURPOSE = "prepared-submission"
_ROW_ID_BYTES = 16
_DIGEST_BYTES = 32
_MAC_BYTES = 32
_HEADER = _ROW_ID_BYTES + _DIGEST_BYTES + _MAC_BYTES


@dataclass(frozen=True)
class Prepared:
    """A send's prepared held row, its HMAC checked."""

    row_id: str
    draft_digest: bytes
    sealed: bytes


def _mac_keys() -> tuple[bytes, ...]:
    return server_keys(_PURPOSE)


def _signed(
    row_id: bytes,
    digest: bytes,
    sealed: bytes,
    *,
    wave_id: int,
    event_id: int | None,
    day: dt.date,
    submission_key: str,
) -> bytes:
    """What the HMAC covers: the send's context (length-prefixed), the row id, the draft's
    digest and the sealed row."""
    context = json.dumps([wave_id, event_id, day.isoformat(), submission_key]).encode("utf-8")
    return len(context).to_bytes(4, "big") + context + row_id + digest + sealed


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, sha256).digest()


def prepare(
    wave_id: int,
    instrument: Instrument,
    answers: dict[str, Any],
    *,
    digest: bytes,
    submission_key: str,
    event_id: int | None,
    day: dt.date,
) -> str | None:
    """The prepared held row for these answers (the draft whose ciphertext has ``digest``),
    as one URL-safe string for the check page's form; None if the answers do not validate
    (the send then takes the ordinary path, which says what is missing)."""
    try:
        questions, attributes = validate(instrument, answers)
    except Invalid:
        return None
    submission = Submission(questions, attributes, day, event_id=event_id)
    row_id = secrets.token_bytes(_ROW_ID_BYTES)
    sealed = seal_submission(row_id.hex(), submission)
    message = _signed(
        row_id,
        digest,
        sealed,
        wave_id=wave_id,
        event_id=event_id,
        day=day,
        submission_key=submission_key,
    )
    mac = _mac(_mac_keys()[0], message)
    return base64.urlsafe_b64encode(row_id + digest + mac + sealed).rstrip(b"=").decode("ascii")


def read(
    text: str, *, wave_id: int, event_id: int | None, day: dt.date, submission_key: str
) -> Prepared | None:
    """The prepared row a check page's form sent back, if its HMAC holds for this wave,
    event, day and key under the server secret (or a fallback); else None."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= _HEADER:
        return None
    row_id = raw[:_ROW_ID_BYTES]
    digest = raw[_ROW_ID_BYTES : _ROW_ID_BYTES + _DIGEST_BYTES]
    mac = raw[_ROW_ID_BYTES + _DIGEST_BYTES : _HEADER]
    sealed = raw[_HEADER:]
    message = _signed(
        row_id,
        digest,
        sealed,
        wave_id=wave_id,
        event_id=event_id,
        day=day,
        submission_key=submission_key,
    )
    if any(hmac.compare_digest(mac, _mac(key, message)) for key in _mac_keys()):
        return Prepared(row_id.hex(), digest, sealed)
    return None


def _hold_prepared_statement():
    """PostgreSQL, in one statement: delete the draft if the wave is open on ``day`` and its
    ciphertext still has ``draft_digest``; for that deleted draft claim the key; for that
    claimed key hold the row; select the rows held (1, or 0 when the draft changed or is
    gone, or the wave is not open). A key claimed before fails the statement, which then
    changes nothing."""
    draft = Draft.__table__
    deleted = (
        delete(draft)
        .where(
            draft.c.lookup == bindparam("draft_lookup"),
            func.sha256(draft.c.sealed) == bindparam("draft_digest", type_=LargeBinary),
            wave_open_on(bindparam("day", type_=Date)),
        )
        .returning(draft.c.lookup)
        .cte("draft_deleted")
    )
    claimed = (
        claim_key_statement(False, after=deleted)
        .returning(SubmissionKey.__table__.c.key_hash)
        .cte("claimed")
    )
    held = held_row_after(claimed)
    return select(select(func.count()).select_from(held).scalar_subquery())


_HOLD_PREPARED = DriverStatement(_hold_prepared_statement())


def hold_prepared(
    wave_id: int, prepared: Prepared, *, submission_key: str, draft: DraftHandle, day: dt.date
) -> bool:
    """Hold a prepared row (see the module's docstring): whether it was held. False when
    the draft changed or is gone or the wave is not open on ``day``, with nothing changed;
    :class:`~.errors.Duplicate` if the key was claimed before; database errors propagate
    (the caller reports "not saved")."""
    parameters = {
        "key_hash": hash_token(submission_key),
        "day": day,
        "wave_id": wave_id,
        "held_id": prepared.row_id,
        "sealed": prepared.sealed,
        "draft_lookup": draft.lookup,
        "draft_digest": prepared.draft_digest,
    }
    standalone = standalone_connection()
    if standalone is not None:  # PostgreSQL: one statement that commits by itself
        return execute_claiming(standalone, _HOLD_PREPARED, parameters).scalar_one() == 1
    try:
        held = _hold_in_transaction(db.session.connection(), draft, parameters)
        if held:
            db.session.commit()
        else:
            db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise
    return held


def _hold_in_transaction(
    connection: Connection, draft: DraftHandle, parameters: dict[str, Any]
) -> bool:
    """The same as statements in the caller's transaction (SQLite, which has no
    ``sha256()``, and a session that has begun one): the caller commits or rolls back."""
    sealed = drafts.sealed_draft(draft, parameters["wave_id"], parameters["day"], connection)
    if sealed is None or not hmac.compare_digest(
        drafts.ciphertext_digest(sealed), parameters["draft_digest"]
    ):
        return False
    if execute_claiming(connection, CLAIM_KEY[True], parameters).rowcount != 1:
        return False  # the wave is not open on that day
    connection.execute(HOLD_ROW, parameters)
    drafts.delete_on(connection, draft)
    return True
