"""Holding and shuffled release: how a web submission becomes a response without its time,
order or transaction pairing it with a person.

* **Held, sealed.** Every web submission (invite, open, event) is first written to
  ``held_submission`` as one AES-256-GCM ciphertext, padded to a fixed size, under a key
  derived with HKDF from the server secret (``survey_app/crypto.py``): the database holds no
  answer in clear, and the key is not in it. The row's id is random and bound to the
  ciphertext as associated data, so a row cannot be swapped into another.
* **One submission per personal link**, without touching the invitation: the holding
  transaction inserts ``HMAC(server secret, token)`` into ``invite_tag``, whose primary key
  lets exactly one of any number of concurrent sends with one token through (SQLite queues
  writers with ``BEGIN IMMEDIATE``; on PostgreSQL the second insert waits for the first and
  then fails). The invitation is marked used only later, in the release transaction, with
  the rest of its batch, so no transaction id, commit record or row version ties an
  invitation to a held row.
* **Shuffled random batches.** While a wave is open, a release draws a random batch from
  the wave's pool of held submissions and leaves at least ``2 x min_batch`` behind: it
  happens once the pool reaches ``4 x min_batch`` and takes the excess (at least
  ``2 x min_batch``), so a submission's wait is random and the batch mixes people who sent
  at different times. Each held submission asks the web process's releaser thread
  (:class:`Releaser`) to look at its wave after the reply, so no respondent waits for a
  release and no submission counts the pool (a cost that would grow with it);
  a release that finds another of its wave under way does not wait for it (PostgreSQL
  advisory lock): the next one releases. Once the wave has closed, everything left goes at
  once: that final
  batch is at least ``2 x min_batch`` if the wave ever released during fieldwork, and at
  least ``min_batch`` unless the whole wave is smaller (``survey release --all`` keeps that
  one exception). Responses are inserted in shuffled order with fresh random ids, and their
  invitations marked used as a shuffled set, in one transaction per batch.
* **No physical order.** On SQLite the tables are ``WITHOUT ROWID`` (rows live in the order
  of their random keys). On PostgreSQL the final release of a wave rewrites every row of
  the wave's responses, answers and used invitations in one transaction, in a fresh random
  order, so that neither ``ctid`` nor ``xmin`` orders the wave's rows by batch.
* **A total, nothing else.** :func:`received_total` counts held plus released rows of a
  wave and reads no attribute.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import (
    Connection,
    Integer,
    LargeBinary,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from .. import clock, drafts
from ..comments.flags import text_question_ids
from ..crypto import SealBroken, derive_key, keyed_tag, seal, unseal
from ..database import DriverStatement, Executor, standalone_connection
from ..drafts import DraftHandle
from ..extensions import db
from ..models import (
    Answer,
    Draft,
    HeldSubmission,
    InstrumentVersion,
    Invitation,
    InviteTag,
    Response,
    Wave,
)
from .errors import AlreadyUsed, WaveNotOpen
from .keys import CLAIM_KEY, claim_key_statement, execute_claiming
from .responses import Submission, insert_responses

#: The smallest batch released from a wave that is still open.
MIN_BATCH = 5
_HELD_PURPOSE = "held-submission"
_TAG_PURPOSE = "invite-token-tag"
_random = secrets.SystemRandom()


# --------------------------------------------------------------------------- keys and tags


def server_secrets() -> tuple[str | bytes, ...]:
    """The server secret, then its fallbacks (``SECRET_KEY_FALLBACKS``), newest first."""
    config = current_app.config
    return (config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ()))


def server_keys(purpose: str) -> tuple[bytes, ...]:
    """The keys for ``purpose`` derived from the current secret and its fallbacks (newest
    first), derived once per process and secret set (HKDF per submission would cost more
    than the encryption)."""
    cache = current_app.extensions.setdefault("pulse_server_keys", {})
    wanted = server_secrets()
    if cache.get(purpose, (None,))[0] != wanted:
        cache[purpose] = (wanted, tuple(derive_key(secret, purpose) for secret in wanted))
    return cache[purpose][1]


def _held_keys() -> tuple[bytes, ...]:
    return server_keys(_HELD_PURPOSE)


def seal_submission(row_id: str, submission: Submission) -> bytes:
    """The submission as stored while held: padded, encrypted and bound to its row id."""
    plain = json.dumps(submission.as_plain(), separators=(",", ":")).encode("utf-8")
    return seal(_held_keys()[0], plain, row_id.encode("ascii"))


def open_submission(row_id: str, sealed: bytes) -> Submission:
    """Inverse of :func:`seal_submission`, trying the current secret, then its fallbacks;
    :class:`~survey_app.crypto.SealBroken` if none opens it."""
    for key in _held_keys():
        try:
            return Submission.from_plain(json.loads(unseal(key, sealed, row_id.encode("ascii"))))
        except SealBroken:
            continue
    raise SealBroken(f"held submission {row_id} does not open with the server secret")


def invite_tag(token: str) -> str:
    """``HMAC(server secret, token)`` in hex: the mark a used personal link leaves."""
    return keyed_tag(server_secrets()[0], _TAG_PURPOSE, token.encode("utf-8")).hex()


def tagged(tags: Sequence[str]) -> set[str]:
    """Which of these invitation tags have a held or released submission."""
    found: set[str] = set()
    for start in range(0, len(tags), 1000):
        found.update(
            db.session.scalars(
                select(InviteTag.tag).where(InviteTag.tag.in_(tags[start : start + 1000]))
            )
        )
    return found


# --------------------------------------------------------------------------- holding


@dataclass(frozen=True)
class HoldRequest:
    """What a web submission needs to be held. ``draft``: the respondent's draft, deleted in
    the holding transaction (so answers are never both held and kept as a draft)."""

    wave_id: int
    submission: Submission
    key: dict  # key_hash, day, wave_id
    only_while_open: bool
    token_hash: str | None = None
    tag: str | None = None
    draft: DraftHandle | None = None


def _held_row_statement():
    table = HeldSubmission.__table__
    return insert(table).values(
        id=bindparam("held_id", type_=String),
        wave_id=bindparam("wave_id", type_=Integer),
        sealed=bindparam("sealed", type_=LargeBinary),
    )


def _pool_size_statement():
    table = HeldSubmission.__table__
    return select(func.count()).select_from(table).where(table.c.wave_id == bindparam("wave_id"))


def held_row_after(claimed):
    """A CTE holding the sealed row (``held_id``, ``wave_id``, ``sealed``) once for each
    row of ``claimed`` (the key just claimed), returning its id."""
    table = HeldSubmission.__table__
    return (
        insert(table)
        .from_select(
            ["id", "wave_id", "sealed"],
            select(
                bindparam("held_id", type_=String),
                bindparam("wave_id", type_=Integer),
                bindparam("sealed", type_=LargeBinary),
            ).select_from(claimed),
        )
        .returning(table.c.id)
        .cte("held")
    )


def _claim_and_hold_statement(only_while_open: bool, with_draft: bool):
    """PostgreSQL: claim the key, hold the sealed row and (``with_draft``) delete the
    respondent's draft in one statement, selecting the rows held (1, or 0 if the wave is not
    open). It does not count the wave's pool: that is the releaser's to do, once per release
    rather than once per submission, whose cost would grow with the pool. One statement is
    one round trip and atomic: if the key is taken the statement fails and
    changes nothing; if the wave is not open nothing is claimed, so nothing is held and the
    draft stays."""
    claimed = (
        claim_key_statement(only_while_open)
        .returning(CLAIM_KEY[False].table.c.key_hash)
        .cte("claimed")
    )
    held = held_row_after(claimed)
    columns = [select(func.count()).select_from(held).scalar_subquery()]
    if with_draft:
        draft = Draft.__table__
        deleted = (
            delete(draft)
            .where(draft.c.lookup == bindparam("draft_lookup"), exists(select(held.c.id)))
            .returning(draft.c.lookup)
            .cte("draft_deleted")
        )
        # Referenced so that SQLAlchemy renders it (PostgreSQL runs it either way).
        columns.append(select(func.count()).select_from(deleted).scalar_subquery())
    return select(*columns)


HOLD_ROW = _held_row_statement()
_CLAIM_AND_HOLD = {
    (flag, draft): DriverStatement(_claim_and_hold_statement(flag, draft))
    for flag in (False, True)
    for draft in (False, True)
}


def hold(request: HoldRequest) -> None:
    """Hold one web submission in one transaction: its idempotency key claimed, its
    invitation's tag inserted (invite waves), its sealed row written and its draft deleted,
    then committed. Raises
    :class:`WaveNotOpen`, :class:`Duplicate` or :class:`AlreadyUsed` and stores nothing;
    database errors propagate (the caller reports "not saved")."""
    held_id = secrets.token_hex(16)
    parameters = {**request.key, "held_id": held_id, "wave_id": request.wave_id}
    if request.draft is not None:
        parameters["draft_lookup"] = request.draft.lookup
    if request.tag is None:  # an invite submission is sealed once its invitation is known
        parameters["sealed"] = seal_submission(held_id, request.submission)
    session_begun = db.session.registry.has() and db.session().in_transaction()
    if session_begun:
        # This request has read or written already (the draft): the submission joins its
        # transaction (on SQLite a second connection would wait for this one's lock).
        try:
            _hold_on(db.session.connection(), request, parameters)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return
    standalone = standalone_connection() if request.tag is None else None
    if standalone is not None:
        # PostgreSQL, open and event links: one statement that commits by itself (no
        # BEGIN, no COMMIT round trip), on the connection that read the draft.
        _claim_and_hold(standalone, request, parameters)
        return
    with db.engine.connect() as connection, connection.begin():
        _hold_on(connection, request, parameters)


def _claim_and_hold(connection: Executor, request: HoldRequest, parameters: dict) -> None:
    """PostgreSQL, open and event submissions: the holding transaction as one statement."""
    statement = _CLAIM_AND_HOLD[(request.only_while_open, request.draft is not None)]
    if execute_claiming(connection, statement, parameters).scalar_one() != 1:
        raise WaveNotOpen


def _hold_on(connection: Connection, request: HoldRequest, parameters: dict) -> None:
    """The holding transaction's statements on ``connection`` (the caller commits)."""
    if connection.dialect.name == "postgresql" and request.tag is None:
        _claim_and_hold(connection, request, parameters)
        return
    if execute_claiming(connection, CLAIM_KEY[request.only_while_open], parameters).rowcount != 1:
        raise WaveNotOpen
    if request.tag is not None:
        invitation_id = connection.execute(
            select(Invitation.id).where(
                Invitation.token_hash == request.token_hash,
                Invitation.wave_id == request.wave_id,
                Invitation.used.is_(False),
            )
        ).scalar()
        if invitation_id is None:
            raise AlreadyUsed
        execute_claiming(
            connection,
            insert(InviteTag.__table__),
            {"tag": request.tag, "wave_id": request.wave_id},
        )
        submission = Submission(**{**request.submission.__dict__, "invitation_id": invitation_id})
        parameters = {**parameters, "sealed": seal_submission(parameters["held_id"], submission)}
    connection.execute(HOLD_ROW, parameters)
    if request.draft is not None:
        drafts.delete_on(connection, request.draft)


def release_due(pool: int, min_batch: int = MIN_BATCH) -> bool:
    """Whether an open wave's pool is large enough for a release: one that leaves
    ``2 x min_batch`` behind and takes at least ``2 x min_batch`` (a release has a fixed
    cost of a few statements and a commit, so it is not made for every few submissions)."""
    return pool >= 4 * min_batch


def release_after_hold(wave_id: int, min_batch: int = MIN_BATCH) -> None:
    """After a submission was held: ask this process's releaser to look at the wave's pool
    (:class:`Releaser`), which releases a batch if one is due, after the submission's
    reply, in a thread of its own; with ``JOBS_BACKEND=eager`` (tests) a due release runs
    here and now, as jobs do."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("JOBS_BACKEND") == "eager":
        if release_due(held_count(wave_id), min_batch):
            release_held(wave_id, min_batch)
        return
    releaser = app.extensions.get("pulse_releaser")
    if releaser is None:
        releaser = app.extensions.setdefault("pulse_releaser", Releaser(app, min_batch))
    releaser.ask(wave_id)


class Releaser:
    """One thread per process and app that releases waves whose pool is due, so that no
    submission waits for a release before its reply. Every held submission asks; the
    release counts the pool under the wave's lock and goes ahead only if it is due
    (:func:`release_due`).

    Requests for a wave coalesce: however many submissions ask while a release of the wave
    is queued or running, it runs once more at most, ``RELEASE_DELAY_SECONDS`` (default 0.5)
    after the first of them asked. Under load the pool grows while a
    release runs, so the next batch is larger and the release's fixed cost (its
    transaction, the wave's lock, a handful of statements) is shared by more submissions.
    A release that fails is logged and the submissions stay held: the next one due, or the
    daily ``survey release``, takes them. The thread starts on the first request, so a
    forking server starts it in the worker that needs it."""

    def __init__(self, app, min_batch: int = MIN_BATCH) -> None:
        self.app, self.min_batch = app, min_batch
        self.delay = float(app.config.get("RELEASE_DELAY_SECONDS", 0.5))
        self._due: list[int] = []
        self._busy = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def ask(self, wave_id: int) -> None:
        with self._condition:
            if wave_id not in self._due:
                self._due.append(wave_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="pulse-release", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued or running (for tests); whether that happened
        within ``timeout`` seconds."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._due and not self._busy, timeout)

    def _work(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: bool(self._due))
            # The wave stays queued while the pool grows for a moment: every submission that
            # asks meanwhile joins this one release, so under load a release takes tens of
            # submissions (its fixed cost shared by all, and a larger batch mixes more
            # people) instead of the minimum each time.
            time.sleep(self.delay)
            with self._condition:
                wave_id = self._due.pop(0)
                self._busy = True
            try:
                with self.app.app_context():
                    try:
                        release_held(wave_id, self.min_batch)
                    except Exception:
                        self.app.logger.exception("releasing held submissions failed")
                    finally:
                        db.session.remove()
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


# --------------------------------------------------------------------------- release


def release_held(
    wave_id: int | None = None, min_batch: int = MIN_BATCH, force: bool = False, today=None
) -> int:
    """Release held submissions into ``response``/``answer``: for each wave (or ``wave_id``),
    a random batch leaving ``2 x min_batch`` held while the wave is open, or everything
    once it has closed (``closes_on`` before ``today``) or when ``force``. One transaction
    per wave, on the ORM session's connection (the caller's pending work is rolled back
    first). Returns how many were released. Safe to run concurrently: PostgreSQL locks the
    wave's held rows; SQLite queues writers."""

    today = today or clock.today()
    if wave_id is not None:
        wave_ids = [wave_id]
    else:
        wave_ids = sorted(db.session.scalars(select(HeldSubmission.wave_id).distinct()).all())
    db.session.rollback()
    released = 0
    for wid in wave_ids:
        try:
            released += _release_wave(db.session.connection(), wid, min_batch, force, today)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return released


# PostgreSQL advisory lock namespace of releases (the second key is the wave id).
_RELEASE_LOCK = 0x50554C53  # "PULS"


def _release_lock(connection: Connection, wave_id: int, wait: bool) -> bool:
    """PostgreSQL: take the wave's release lock for this transaction; without ``wait``, only
    if no other release of the wave holds it (a submission does not queue behind another's
    release: the next one releases instead). SQLite queues writers anyway: always True."""
    if connection.dialect.name != "postgresql":
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    taken = connection.execute(
        text(f"SELECT {function}(:space, :wave)"), {"space": _RELEASE_LOCK, "wave": wave_id}
    ).scalar()
    return wait or bool(taken)


def _text_ids(connection: Connection, version_id: int) -> set[str]:
    """The text question ids of an instrument version, read once per process (a stored
    version never changes)."""
    cache = current_app.extensions.setdefault("pulse_text_question_ids", {})
    if version_id not in cache:
        definition = connection.execute(
            select(InstrumentVersion.definition).where(InstrumentVersion.id == version_id)
        ).scalar_one()
        cache[version_id] = text_question_ids(definition)
    return cache[version_id]


def _release_wave(connection: Connection, wave_id: int, min_batch: int, force: bool, today) -> int:
    wave = connection.execute(
        select(Wave.closes_on, Wave.instrument_version_id).where(Wave.id == wave_id)
    ).first()
    if wave is None:
        return 0
    final = force or wave.closes_on < today
    if not _release_lock(connection, wave_id, wait=final):
        return 0
    held = HeldSubmission.__table__
    ids = connection.scalars(
        select(held.c.id).where(held.c.wave_id == wave_id).with_for_update()
    ).all()
    if final:
        chosen = ids
    elif release_due(len(ids), min_batch):
        # Only the rows drawn are read and opened: the ones left behind wait for a later
        # batch (and a release that is not due reads no ciphertext at all).
        chosen = _random.sample(ids, len(ids) - 2 * min_batch)
    else:
        return 0
    rows: list[tuple[str, bytes]] = []
    for start in range(0, len(chosen), 1000):
        part = chosen[start : start + 1000]
        rows.extend(
            (row.id, row.sealed)
            for row in connection.execute(
                select(held.c.id, held.c.sealed).where(held.c.id.in_(part))
            )
        )
    opened = _openable(wave_id, rows)
    batch = list(opened)
    if not batch:
        return 0
    gone = connection.execute(delete(held).where(held.c.id.in_(batch)))
    if gone.rowcount != len(batch):  # cannot happen under the lock; never release twice
        raise RuntimeError("held submissions changed during their release")
    _random.shuffle(batch)
    submissions = [opened[row_id] for row_id in batch]
    # insert_responses writes no invitation: a response has no column for one.
    insert_responses(
        connection, wave_id, submissions, _text_ids(connection, wave.instrument_version_id)
    )
    invitations = [s.invitation_id for s in submissions if s.invitation_id is not None]
    _random.shuffle(invitations)
    if invitations:
        connection.execute(
            update(Invitation.__table__)
            .where(Invitation.__table__.c.id.in_(invitations))
            .values(used=True)
        )
    if final and connection.dialect.name == "postgresql":
        _rewrite_in_random_order(connection, wave_id)
    return len(batch)


def _openable(wave_id: int, rows: Sequence[tuple[str, bytes]]) -> dict[str, Submission]:
    """The held rows that open with the server secret (or a fallback), by id. A row that
    does not (``SECRET_KEY`` changed without ``SECRET_KEY_FALLBACKS``) stays held and is
    reported, rather than holding back every other submission of the wave."""
    opened: dict[str, Submission] = {}
    for row_id, sealed in rows:
        try:
            opened[row_id] = open_submission(row_id, sealed)
        except SealBroken:
            continue
    if len(opened) < len(rows):
        current_app.logger.error(
            "%d held submissions of wave %d do not open with SECRET_KEY or its fallbacks and "
            "stay held: add the previous key to SECRET_KEY_FALLBACKS",
            len(rows) - len(opened),
            wave_id,
        )
    return opened


def _rewrite_in_random_order(connection: Connection, wave_id: int) -> None:
    """PostgreSQL: a new version of every row of the wave's responses, answers and used
    invitations, written in one transaction in a fresh random order, so that ``xmin`` is
    the same for all of them and ``ctid`` order is random rather than batch by batch. (The
    old versions are dead and are reclaimed by VACUUM; until then they show only batches
    of at least the minimum size.)"""
    ids = list(connection.scalars(select(Response.id).where(Response.wave_id == wave_id)))
    _random.shuffle(ids)
    if not ids:
        return
    response, answer = Response.__table__, Answer.__table__
    by_id = bindparam("rid", type_=String)
    connection.execute(
        update(response).where(response.c.id == by_id).values(weight=response.c.weight),
        [{"rid": i} for i in ids],
    )
    connection.execute(
        update(answer).where(answer.c.response_id == by_id).values(value=answer.c.value),
        [{"rid": i} for i in ids],
    )
    invitation = Invitation.__table__
    connection.execute(
        update(invitation)
        .where(invitation.c.wave_id == wave_id, invitation.c.used.is_(True))
        .values(used=True)
    )


def received_total(wave_id: int) -> int:
    """Submissions received for a wave so far: held plus released, from row counts alone
    (no attribute, answer or day is read). The only figure staff see during fieldwork."""
    held = (
        select(func.count())
        .select_from(HeldSubmission)
        .where(HeldSubmission.wave_id == wave_id)
        .scalar_subquery()
    )
    released = (
        select(func.count())
        .select_from(Response)
        .where(Response.wave_id == wave_id)
        .scalar_subquery()
    )
    return int(db.session.execute(select(held + released)).scalar_one())


def held_count(wave_id: int) -> int:
    """Submissions of a wave still held back (not yet released into ``response``)."""
    return int(db.session.execute(_pool_size_statement(), {"wave_id": wave_id}).scalar_one())
