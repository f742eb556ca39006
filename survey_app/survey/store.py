"""Storing submissions, once, anonymously.

* Every submission first claims its form's idempotency key (``submission_key`` primary key):
  the same form posted twice stores one response (:class:`Duplicate` for the second).
* An invite submission marks its invitation used with ``UPDATE ... WHERE used = false`` and
  checks that exactly one row changed, in the same transaction that stores it: concurrent
  submissions with one token store exactly one (:class:`AlreadyUsed` for the others), on
  SQLite (``BEGIN IMMEDIATE`` queues writers) and PostgreSQL (the second ``UPDATE`` waits
  for the first and then finds ``used = true``).
* Invite submissions go to ``held_submission``, never straight to ``response``;
  :func:`release_held` moves them in shuffled batches of at least ``min_batch`` (or all of
  them once the wave has closed), so that neither insertion order nor transaction ids pair
  a response with the invitation that was marked used.
* Open and event submissions are stored as responses at once (nothing to pair them with).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from instruments import Instrument

from ..comments.flags import flag_comments
from ..extensions import db
from ..models import (
    Answer,
    Channel,
    HeldSubmission,
    Invitation,
    InviteDraft,
    Response,
    SubmissionKey,
    Wave,
    random_id,
)
from ..security import hash_token
from .forms import check_answers, clean_value

MIN_BATCH = 5
_random = secrets.SystemRandom()


class Duplicate(Exception):
    """This form was already submitted: the response is stored once."""


class AlreadyUsed(Exception):
    """The invitation's token has been used (or belongs to another wave)."""


class NotSaved(Exception):
    """The database failed: nothing was stored; the respondent should try again."""


class Invalid(Exception):
    """The answers fail validation (a tampered session or form)."""


def split_answers(instrument: Instrument, answers: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Validated stored values: (answers by question id, attributes by attribute id)."""
    if check_answers(instrument, answers):
        raise Invalid
    questions = {}
    for question in instrument.questions:
        value = clean_value(instrument, question.id, answers.get(question.id))
        if value is not None:
            questions[question.id] = value
    attributes = {}
    for attribute in instrument.attributes:
        value = clean_value(instrument, attribute.id, answers.get(attribute.id))
        if value is not None:
            attributes[attribute.id] = value
    return questions, attributes


def store_submission(
    wave: Wave,
    instrument: Instrument,
    answers: dict[str, Any],
    *,
    submission_key: str,
    token: str | None = None,
    event_id: int | None = None,
    today: dt.date | None = None,
    channel: Channel = Channel.WEB,
) -> None:
    """Store one submission in one transaction, or raise and store nothing. ``channel`` says
    how it reached us (paper and phone returns are keyed in by analysts)."""
    today = today or dt.date.today()
    questions, attributes = split_answers(instrument, answers)
    try:
        db.session.add(SubmissionKey(key_hash=hash_token(submission_key), used_on=today))
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise Duplicate from None
        if token is not None:
            marked = db.session.execute(
                update(Invitation)
                .where(Invitation.token_hash == hash_token(token), Invitation.wave_id == wave.id,
                       Invitation.used.is_(False))
                .values(used=True)
                .execution_options(synchronize_session=False)
            )
            if marked.rowcount != 1:
                db.session.rollback()
                raise AlreadyUsed
            db.session.execute(  # the saved draft goes in the same transaction
                delete(InviteDraft)
                .where(InviteDraft.invitation_id.in_(
                    select(Invitation.id).where(Invitation.token_hash == hash_token(token))))
                .execution_options(synchronize_session=False)
            )
            db.session.add(HeldSubmission(
                wave_id=wave.id, held_on=today,
                payload={"answers": questions, "attributes": attributes},
            ))
        else:
            response = Response(wave_id=wave.id, event_id=event_id, submitted_on=today,
                                channel=channel, attributes=attributes)
            response.answers = [Answer(question_id=q, value=v) for q, v in questions.items()]
            db.session.add(response)
            db.session.flush()  # gives the response its random id for the flags
            flag_comments([response.id])
        db.session.commit()
    except (Duplicate, AlreadyUsed):
        raise
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise NotSaved from exc


def held_count(wave_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(HeldSubmission).where(HeldSubmission.wave_id == wave_id)
    ) or 0


def release_held(
    wave_id: int | None = None,
    min_batch: int = MIN_BATCH,
    force: bool = False,
    today: dt.date | None = None,
) -> int:
    """Move held invite submissions into ``response``/``answer``, in shuffled order, one
    transaction per wave. A wave's held rows are released only when there are at least
    ``min_batch`` of them, or the wave has closed, or ``force``. Returns how many were
    released. Safe to run concurrently: a batch that another process released first is
    rolled back."""
    today = today or dt.date.today()
    query = select(HeldSubmission.wave_id).distinct()
    if wave_id is not None:
        query = query.where(HeldSubmission.wave_id == wave_id)
    wave_ids = sorted(db.session.scalars(query).all())
    db.session.rollback()
    released = 0
    for wid in wave_ids:
        wave = db.session.get(Wave, wid)
        held = list(db.session.scalars(select(HeldSubmission).where(HeldSubmission.wave_id == wid)))
        closed = wave is not None and wave.closes_on < today
        if not held or (len(held) < min_batch and not (force or closed)):
            db.session.rollback()
            continue
        _random.shuffle(held)
        gone = db.session.execute(
            delete(HeldSubmission)
            .where(HeldSubmission.id.in_([h.id for h in held]))
            .execution_options(synchronize_session=False)
        )
        if gone.rowcount != len(held):  # another release took some of them
            db.session.rollback()
            continue
        responses, answers = [], []
        for h in held:
            rid = random_id()
            responses.append({"id": rid, "wave_id": wid, "event_id": None,
                              "submitted_on": h.held_on, "channel": Channel.WEB,
                              "attributes": h.payload.get("attributes", {}), "weight": None})
            answers += [{"response_id": rid, "question_id": q, "value": v}
                        for q, v in h.payload.get("answers", {}).items()]
        db.session.execute(insert(Response), responses)
        if answers:
            db.session.execute(insert(Answer), answers)
        flag_comments([r["id"] for r in responses])
        db.session.commit()
        released += len(held)
    purge_closed_drafts(today)
    return released


# --------------------------------------------------------------------------- save and resume


def _unused_invitation(wave: Wave, token: str) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(
        Invitation.token_hash == hash_token(token), Invitation.wave_id == wave.id,
        Invitation.used.is_(False)))


def save_draft(wave: Wave, token: str, answers: dict[str, Any]) -> bool:
    """Keep an invite respondent's answers so far against their (unused) invitation, so
    they can finish later from the same link. Returns whether it was saved."""
    try:
        invitation = _unused_invitation(wave, token)
        if invitation is None:
            db.session.rollback()
            return False
        draft = db.session.get(InviteDraft, invitation.id)
        if draft is None:
            db.session.add(InviteDraft(invitation_id=invitation.id, answers=dict(answers)))
        else:
            draft.answers = dict(answers)
        db.session.commit()
        return True
    except SQLAlchemyError:
        db.session.rollback()  # the answers are still in the session: not lost
        return False


def load_draft(invitation: Invitation) -> dict[str, Any] | None:
    draft = db.session.get(InviteDraft, invitation.id)
    return dict(draft.answers) if draft is not None else None


def purge_closed_drafts(today: dt.date | None = None) -> int:
    """Delete the drafts of every wave that has closed; returns how many."""
    today = today or dt.date.today()
    closed = select(Invitation.id).join(Wave, Wave.id == Invitation.wave_id).where(Wave.closes_on < today)
    gone = db.session.execute(
        delete(InviteDraft).where(InviteDraft.invitation_id.in_(closed))
        .execution_options(synchronize_session=False))
    db.session.commit()
    return gone.rowcount or 0
