"""The one door every answer comes in by.

Every channel stores a response through this package, validated, redacted and flagged the
same way (:func:`~survey_app.ingestion.responses.validate`,
:func:`~survey_app.ingestion.responses.insert_responses`):

* web submissions (invite, open, event): :func:`store_submission` holds them sealed and
  :func:`release_held` later releases them in shuffled random batches (``holding``); an
  open or event link's check page prepares its held row (:func:`prepare_submission`), and
  :func:`store_prepared` holds that in one statement (``prepared``);
* paper and phone returns keyed in by analysts, one at a time (:func:`store_submission`
  with a paper or phone channel) or from CSV (:func:`store_returns`): stored as responses
  at once (they are typed up by staff, so their timing is the office's, not a person's);
* the demo council's synthetic responses (``survey_app/demo.py``).

This package has no Flask blueprint: the respondent pages, the returns pages, the CLI and
the demo call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from instruments import Instrument

from .. import clock, drafts
from ..drafts import DraftHandle
from ..extensions import db
from ..models import Channel, SubmissionKey
from ..security import hash_token
from .errors import AlreadyUsed, Duplicate, Invalid, NotSaved, WaveNotOpen
from .holding import (
    MIN_BATCH,
    HoldRequest,
    held_count,
    hold,
    invite_tag,
    received_total,
    release_after_hold,
    release_held,
    tagged,
)
from .keys import CLAIM_KEY, execute_claiming
from .prepared import Prepared, hold_prepared
from .prepared import prepare as prepare_submission
from .prepared import read as read_prepared
from .responses import Submission, insert_responses, text_question_ids, validate

__all__ = [
    "MIN_BATCH",
    "held_count",
    "AlreadyUsed",
    "Duplicate",
    "Invalid",
    "NotSaved",
    "Prepared",
    "Submission",
    "WaveNotOpen",
    "insert_responses",
    "invite_tag",
    "link_used",
    "prepare_submission",
    "read_prepared",
    "received_total",
    "release_held",
    "store_prepared",
    "store_returns",
    "store_submission",
    "tagged",
    "text_question_ids",
    "validate",
]


class HasWaveId(Protocol):
    @property
    def id(self) -> int: ...


def store_submission(
    wave: HasWaveId,
    instrument: Instrument,
    answers: dict[str, Any],
    *,
    submission_key: str,
    token: str | None = None,
    event_id: int | None = None,
    today: dt.date | None = None,
    channel: Channel = Channel.WEB,
    only_while_open: bool = False,
    draft: DraftHandle | None = None,
) -> None:
    """Store one submission, or raise and store nothing.

    A web submission (``channel`` web) is validated and held sealed in one transaction
    that claims ``submission_key`` (:class:`Duplicate` if claimed before), with ``token``'s
    tag for a personal link (:class:`AlreadyUsed` if the link was used or is not this
    wave's), checking that the wave is open on ``today`` when ``only_while_open``
    (:class:`WaveNotOpen`), and deleting the respondent's ``draft`` in the same
    transaction. Once the wave's pool is large enough, a random batch is released after the
    reply, by this process's releaser thread (a failed release is logged: the submission is
    held and a later one releases it). A paper or phone return is stored as a response at
    once. :class:`Invalid` for answers that fail validation, :class:`NotSaved` if the
    database failed."""
    today = today or clock.today()
    questions, attributes = validate(instrument, answers)
    submission = Submission(questions, attributes, today, event_id=event_id, channel=channel)
    key = {"key_hash": hash_token(submission_key), "day": today, "wave_id": wave.id}
    if channel is not Channel.WEB:
        _store_return(wave.id, instrument, submission, key, draft)
        return
    request = HoldRequest(
        wave_id=wave.id,
        submission=submission,
        key=key,
        only_while_open=only_while_open,
        token_hash=hash_token(token) if token is not None else None,
        tag=invite_tag(token) if token is not None else None,
        draft=draft,
    )
    try:
        hold(request)
    except SQLAlchemyError as exc:
        raise NotSaved from exc
    _release_soon(wave.id)


def store_prepared(
    wave: HasWaveId,
    prepared: Prepared,
    *,
    submission_key: str,
    draft: DraftHandle,
    today: dt.date | None = None,
) -> bool:
    """Hold a web submission its check page prepared (:mod:`.prepared`), deleting the
    respondent's ``draft``, in one transaction; whether it was held. False changes
    nothing: the draft changed or is gone, or the wave is not open on ``today``, and the
    caller sends it with :func:`store_submission`. :class:`Duplicate` if the key was
    claimed before, :class:`NotSaved` if the database failed."""
    try:
        held = hold_prepared(
            wave.id,
            prepared,
            submission_key=submission_key,
            draft=draft,
            day=today or clock.today(),
        )
    except SQLAlchemyError as exc:
        raise NotSaved from exc
    if held:
        _release_soon(wave.id)
    return held


def _release_soon(wave_id: int) -> None:
    try:
        release_after_hold(wave_id)
    except Exception:  # the submission is held: a later release takes it
        current_app.logger.exception("releasing held submissions failed")


def link_used(token: str) -> bool:
    """Whether a submission from this personal link has been held (or released)."""
    return bool(tagged([invite_tag(token)]))


def _store_return(
    wave_id: int,
    instrument: Instrument,
    submission: Submission,
    key: dict,
    draft: DraftHandle | None,
) -> None:
    """A paper or phone return: its key claimed and its response stored, in the session's
    transaction (the caller commits, e.g. with its audit entry)."""
    try:
        connection = db.session.connection()
        execute_claiming(connection, CLAIM_KEY[False], key)
        insert_responses(connection, wave_id, [submission], text_question_ids(instrument))
        if draft is not None:
            drafts.delete_on(connection, draft)
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise NotSaved from exc


def store_returns(
    wave_id: int, instrument: Instrument, submissions: Sequence[Submission]
) -> list[str]:
    """A batch of validated paper and phone returns (e.g. a CSV upload), stored as
    responses in the session's transaction: all or nothing when the caller commits."""
    try:
        return insert_responses(
            db.session.connection(), wave_id, submissions, text_question_ids(instrument)
        )
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise NotSaved from exc


def submission_stored(submission_key: str) -> bool:
    """Whether a submission with this idempotency key has been stored (its key claimed):
    a resent form whose reply was lost is then recognised as sent."""
    return (
        db.session.scalar(
            select(SubmissionKey.key_hash).where(
                SubmissionKey.key_hash == hash_token(submission_key)
            )
        )
        is not None
    )
