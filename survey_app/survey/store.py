"""Storing submissions, once, anonymously.

* Every submission first claims its form's idempotency key (``submission_key`` primary key):
  the same form posted twice stores one response (:class:`Duplicate` for the second). A web
  submission claims it only if its wave is open that day (:class:`WaveNotOpen`), so a page
  served from a process's out-of-date copy of the wave cannot store into a closed wave.
* On PostgreSQL an open or event submission is one statement (key, response and answers
  through data-modifying CTEs), committed by itself unless a comment needs a safeguarding
  flag in the same transaction: the submit is the survey's hot path, and every round trip
  and statement costs the app and the server.
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
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from flask import current_app
from sqlalchemy import (
    ARRAY,
    Connection,
    Date,
    String,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from instruments import Instrument

from .. import clock
from ..comments.flags import flag_comments, new_answer_flags, open_flags
from ..drafts import purge_closed as purge_closed_drafts
from ..extensions import db
from ..models import (
    Answer,
    Channel,
    HeldSubmission,
    Invitation,
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


_random = secrets.SystemRandom()


class Duplicate(Exception):
    """This form was already submitted: the response is stored once."""


class AlreadyUsed(Exception):
    """The invitation's token has been used (or belongs to another wave)."""


class WaveNotOpen(Exception):
    """The wave closed (or has not opened) since the respondent's page was shown: nothing
    was stored."""


class NotSaved(Exception):
    """The database failed: nothing was stored; the respondent should try again."""


class Invalid(Exception):
    """The answers fail validation (a tampered session or form); ``problems`` says how."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _claim_key_statement(only_while_open: bool):
    """INSERT the idempotency key's hash (``key_hash``, ``day``); when ``only_while_open``,
    only if wave ``wave_id`` is open on ``day``, so that a closed wave stores nothing."""
    day = bindparam("day", type_=Date)
    row = select(bindparam("key_hash", type_=String), day)
    if only_while_open:
        row = row.where(select(Wave.id).where(
            Wave.id == bindparam("wave_id"), Wave.opens_on <= day, Wave.closes_on >= day).exists())
    # SQLAlchemy counts the rows an INSERT wrote only when asked to
    return insert(SubmissionKey.__table__).from_select(["key_hash", "used_on"], row) \
        .execution_options(preserve_rowcount=True)


def _arrays(*names: str):
    """PostgreSQL: rows from parallel array parameters ``<name>s``, a column per name."""
    return func.unnest(*(bindparam(f"{name}s", type_=ARRAY(Text)) for name in names)) \
        .table_valued(*names).render_derived()


def _store_response_statement(only_while_open: bool):
    """PostgreSQL: the key, the response and its answers in one statement (one round trip
    instead of three), each INSERT feeding the next through a data-modifying CTE; selects
    1 if the response was stored, 0 if the wave was not open."""
    claimed = _claim_key_statement(only_while_open) \
        .returning(SubmissionKey.__table__.c.key_hash).cte("claimed")
    response = Response.__table__
    values = {"id": "response_id", "wave_id": "wave_id", "event_id": "event_id",
              "submitted_on": "day", "channel": "channel", "attributes": "attributes"}
    stored = insert(response).from_select(list(values), select(*(
        bindparam(name, type_=response.c[column].type) for column, name in values.items()
    )).select_from(claimed)).returning(response.c.id).cte("stored")
    answers = _arrays("question_id", "value")
    answered = insert(Answer.__table__).from_select(
        ["response_id", "question_id", "value"],
        select(stored.c.id, *answers.c).select_from(stored.join(answers, true()))  # one row
    ).cte("answered")
    return select(func.count()).select_from(stored).add_cte(answered)


CLAIM_KEY = {flag: _claim_key_statement(flag) for flag in (False, True)}
STORE_RESPONSE = {flag: _store_response_statement(flag) for flag in (False, True)}


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
    only_while_open: bool = False,
    also_in_transaction: Callable[[Connection], None] | None = None,
) -> None:
    """Store one submission in one transaction, or raise and store nothing. ``channel`` says
    how it reached us (paper and phone returns are keyed in by analysts, also after the wave
    has closed). ``only_while_open``: store it only if the wave is open on ``today``, checked
    in the same statement that claims the idempotency key (:class:`WaveNotOpen` if not).
    ``also_in_transaction`` is called with the connection inside the transaction that holds
    the submission, after it is stored (the respondent pages delete the draft there), so
    both happen or neither."""
    today = today or clock.today()
    questions, attributes = split_answers(instrument, answers)
    key = {"key_hash": hash_token(submission_key), "day": today, "wave_id": wave.id}
    if token is not None:
        _hold_invite_submission(wave, token, questions, attributes, key, only_while_open,
                                also_in_transaction)
        return
    response_id = random_id()
    submission = _OpenSubmission(
        key=key, response_id=response_id, questions=questions, attributes=attributes,
        event_id=event_id, channel=channel, only_while_open=only_while_open,
        also_in_transaction=also_in_transaction,
        flags=new_answer_flags({response_id: questions},
                               [q.id for q in instrument.questions if q.type == "text"]))
    if _request_transaction_begun():
        # This request has read or written already: the submission joins its transaction
        # (on SQLite a second connection would wait for this one's lock).
        _in_session(lambda: submission.store(db.session.connection()))
        return
    # Otherwise (the usual case: the wave came from the process's copy) a pooled connection
    # of its own, without the ORM session; on PostgreSQL with no flag to open, the one
    # statement commits by itself (no COMMIT round trip).
    try:
        with db.engine.connect() as connection:
            if submission.in_one_statement(connection):
                submission.store(connection.execution_options(isolation_level="AUTOCOMMIT"))
            else:
                with connection.begin():
                    submission.store(connection)
    except SQLAlchemyError as exc:
        raise NotSaved from exc


@dataclass(frozen=True)
class _OpenSubmission:
    """An open or event submission, validated and ready to store, with the safeguarding
    flags its comments need."""

    key: dict[str, Any]  # key_hash, day, wave_id
    response_id: str
    questions: dict[str, str]
    attributes: dict[str, str]
    event_id: int | None
    channel: Channel
    only_while_open: bool
    flags: list[tuple[str, str, list[str]]]
    also_in_transaction: Callable[[Connection], None] | None = None

    def in_one_statement(self, connection) -> bool:
        """Whether storing it is one statement that can commit by itself."""
        return (connection.dialect.name == "postgresql" and not self.flags
                and self.also_in_transaction is None)

    def store(self, connection) -> None:
        """The key, the response, its answers and its flags, in ``connection``'s
        transaction; :class:`WaveNotOpen` if the wave is not open, :class:`Duplicate` if
        the key was used before."""
        if connection.dialect.name == "postgresql":
            stored = _execute_claiming(connection, STORE_RESPONSE[self.only_while_open], {
                **self.key, "response_id": self.response_id, "event_id": self.event_id,
                "channel": self.channel, "attributes": self.attributes,
                "question_ids": list(self.questions), "values": list(self.questions.values()),
            }).scalar_one()
        else:
            stored = _execute_claiming(connection, CLAIM_KEY[self.only_while_open],
                                       self.key).rowcount
            if stored == 1:
                insert_responses(self.key["wave_id"],
                                 [(self.questions, self.attributes, self.key["day"])],
                                 event_id=self.event_id, channel=self.channel,
                                 ids=[self.response_id], connection=connection)
        if stored != 1:
            raise WaveNotOpen
        open_flags(self.flags, connection)
        if self.also_in_transaction is not None:
            self.also_in_transaction(connection)


def _in_session(store) -> None:
    """Run ``store()`` in the ORM session's transaction and commit; nothing is kept if it
    raises."""
    try:
        store()
        db.session.commit()
    except (Duplicate, AlreadyUsed, WaveNotOpen):
        db.session.rollback()
        raise
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise NotSaved from exc


def _hold_invite_submission(wave: Wave | WaveFacts, token: str, questions: dict[str, str],
                            attributes: dict[str, str], key: dict[str, Any],
                            only_while_open: bool,
                            also_in_transaction: Callable[[Connection], None] | None) -> None:
    """An invite submission: its key claimed, its invitation marked used and its answers
    held for release, with ``also_in_transaction`` (e.g. deleting the draft), in one
    transaction."""

    def hold() -> None:
        connection = db.session.connection()
        if _execute_claiming(connection, CLAIM_KEY[only_while_open], key).rowcount != 1:
            raise WaveNotOpen
        marked = db.session.execute(
            update(Invitation)
            .where(Invitation.token_hash == hash_token(token), Invitation.wave_id == wave.id,
                   Invitation.used.is_(False))
            .values(used=True)
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:
            raise AlreadyUsed
        db.session.add(HeldSubmission(
            wave_id=wave.id, held_on=key["day"],
            payload={"answers": questions, "attributes": attributes},
        ))
        if also_in_transaction is not None:
            db.session.flush()
            also_in_transaction(connection)

    _in_session(hold)


def submission_stored(submission_key: str) -> bool:
    """Whether a submission with this idempotency key has been stored (its key claimed)."""
    return db.session.scalar(select(SubmissionKey.key_hash).where(
        SubmissionKey.key_hash == hash_token(submission_key))) is not None


def _request_transaction_begun() -> bool:
    """Whether this request's ORM session has begun a transaction (without creating a
    session just to ask)."""
    return db.session.registry.has() and db.session().in_transaction()


def _execute_claiming(connection, statement, parameters: dict[str, Any]):
    """Execute a statement that claims the idempotency key; :class:`Duplicate` if the key
    was claimed before (and nothing else failed)."""
    try:
        return connection.execute(statement, parameters)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint in (None, SubmissionKey.__table__.primary_key.name):
            raise Duplicate from None
        raise


def insert_responses(
    wave_id: int,
    submissions: list[tuple[dict[str, str], dict[str, str], dt.date]],
    *,
    event_id: int | None = None,
    channel: Channel = Channel.WEB,
    ids: list[str] | None = None,
    connection=None,
) -> list[str]:
    """Insert responses with their answers, in the caller's transaction, in the order given;
    each submission is (answers by question id, attributes, day). Returns the new response
    ids (``ids`` if given, else random ones). Core inserts on ``connection`` (default: the
    session's): the ORM's bulk path costs more than the inserts themselves (see
    :func:`_insert_answers`)."""
    ids = ids if ids is not None else [random_id() for _ in submissions]
    responses, answer_rows = [], []
    for rid, (questions, attributes, day) in zip(ids, submissions, strict=True):
        responses.append({"id": rid, "wave_id": wave_id, "event_id": event_id,
                          "submitted_on": day, "channel": channel, "attributes": attributes,
                          "weight": None})
        answer_rows += [{"response_id": rid, "question_id": q, "value": v}
                        for q, v in questions.items()]
    connection = connection if connection is not None else db.session.connection()
    connection.execute(insert(Response.__table__), responses)
    if answer_rows:
        _insert_answers(connection, answer_rows)
    return ids


# PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) for any number of answers. psycopg's
# executemany sends one INSERT per answer, which the server parses and runs each time, and
# a multi-row VALUES statement is compiled afresh for every row count (no statement cache).
_ANSWER_COLUMNS = ("response_id", "question_id", "value")
ANSWERS_FROM_ARRAYS = insert(Answer.__table__).from_select(
    list(_ANSWER_COLUMNS), select(*_arrays(*_ANSWER_COLUMNS).c))


def _insert_answers(connection, rows: list[dict[str, str]]) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(ANSWERS_FROM_ARRAYS, {
            f"{column}s": [row[column] for row in rows] for column in _ANSWER_COLUMNS})
    else:  # SQLite's executemany runs one prepared statement in process: already cheap
        connection.execute(insert(Answer.__table__), rows)


def held_count(wave_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(HeldSubmission).where(HeldSubmission.wave_id == wave_id)
    ) or 0


def received_total(wave_id: int) -> int:
    """Every submission a wave has received: held (not yet released) plus released. During
    fieldwork this is the only count staff see (issue 14 section 2). A simple version: the
    holding branch replaces its body with a counter that stores no attributes."""
    released = db.session.scalar(
        select(func.count()).select_from(Response).where(Response.wave_id == wave_id)
    ) or 0
    return held_count(wave_id) + released


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
    today = today or clock.today()
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
