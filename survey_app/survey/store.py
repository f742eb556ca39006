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
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from instruments import Instrument

from ..comments.flags import flag_comments, flag_new_answers
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
    WaveMode,
    random_id,
)
from ..security import hash_token
from .forms import Problem, clean_answers

MIN_BATCH = 5


@dataclass(frozen=True)
class WaveFacts:
    """What the respondent pages need to know of a wave, read with one light query (no ORM
    object), and kept in memory so that a submit can still show the answers with a "not
    saved" message when the database goes away."""

    id: int
    slug: str
    mode: WaveMode
    audience: str
    opens_on: dt.date
    closes_on: dt.date
    instrument_version_id: int


def wave_facts(slug: str) -> WaveFacts | None:
    columns = [Wave.__table__.c[f.name] for f in fields(WaveFacts)]
    row = db.session.connection().execute(
        select(*columns).where(Wave.__table__.c.slug == slug)).first()
    return WaveFacts(*row) if row is not None else None


_random = secrets.SystemRandom()


class Duplicate(Exception):
    """This form was already submitted: the response is stored once."""


class AlreadyUsed(Exception):
    """The invitation's token has been used (or belongs to another wave)."""


class NotSaved(Exception):
    """The database failed: nothing was stored; the respondent should try again."""


class Invalid(Exception):
    """The answers fail validation (a tampered session or form); ``problems`` says how."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def split_answers(instrument: Instrument, answers: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Validated stored values: (answers by question id, attributes by attribute id);
    raises :class:`Invalid` with the problems if there are any."""
    questions, attributes, problems = clean_answers(instrument, answers)
    if problems:
        raise Invalid(problems)
    return questions, attributes


def store_submission(
    wave: Wave | WaveFacts,
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
        try:
            db.session.connection().execute(insert(SubmissionKey.__table__), {
                "key_hash": hash_token(submission_key), "used_on": today})
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
            [response_id] = insert_responses(wave.id, [(questions, attributes, today)],
                                             event_id=event_id, channel=channel)
            flag_new_answers({response_id: questions},
                             [q.id for q in instrument.questions if q.type == "text"])
        db.session.commit()
    except (Duplicate, AlreadyUsed):
        raise
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise NotSaved from exc


def insert_responses(
    wave_id: int,
    submissions: list[tuple[dict[str, str], dict[str, str], dt.date]],
    *,
    event_id: int | None = None,
    channel: Channel = Channel.WEB,
) -> list[str]:
    """Insert responses with their answers, in the caller's transaction, in the order given;
    each submission is (answers by question id, attributes, day). Returns the new response
    ids. Core inserts on the session's connection: the ORM's bulk path costs more than the
    inserts themselves."""
    responses, answer_rows = [], []
    for questions, attributes, day in submissions:
        rid = random_id()
        responses.append({"id": rid, "wave_id": wave_id, "event_id": event_id,
                          "submitted_on": day, "channel": channel, "attributes": attributes,
                          "weight": None})
        answer_rows += [{"response_id": rid, "question_id": q, "value": v}
                        for q, v in questions.items()]
    connection = db.session.connection()
    connection.execute(insert(Response.__table__), responses)
    if answer_rows:
        connection.execute(insert(Answer.__table__), answer_rows)
    return [r["id"] for r in responses]


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
        flag_comments(insert_responses(wid, [(h.payload.get("answers", {}), h.payload.get("attributes", {}),
                                              h.held_on) for h in held]))
        db.session.commit()
        released += len(held)
    purge_closed_drafts(today)
    return released


# --------------------------------------------------------------------------- save and resume


def _unused_invitation(wave: Wave | WaveFacts, token: str) -> Invitation | None:
    return db.session.scalar(select(Invitation).where(
        Invitation.token_hash == hash_token(token), Invitation.wave_id == wave.id,
        Invitation.used.is_(False)))


def save_draft(wave: Wave | WaveFacts, token: str, answers: dict[str, Any]) -> bool:
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
