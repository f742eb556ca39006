"""Typed SQLAlchemy 2 models.

Anonymity is a property of this schema, not a setting: the response tables hold no token,
user, address, user agent or time finer than a day; response ids are random; an invitation
records only whether it was used, never when. The tables a submission passes through have no
hidden insertion-ordered key: on SQLite they are ``WITHOUT ROWID`` (rows live in the order
of their random primary keys, and there is no ``rowid`` to sort by), on PostgreSQL no
serial ids (release order is shuffled, see ``survey_app/ingestion/holding.py``).
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from instruments import Instrument

from . import clock
from .extensions import Model, db, login_manager


def random_id() -> str:
    """A random 128-bit id: nothing about a response can be read from its key."""
    return secrets.token_hex(16)


#: ``__table_args__`` entry: on SQLite, no hidden ``rowid`` (which counts up in insertion
#: order); ignored by PostgreSQL.
NO_ROWID = {"sqlite_with_rowid": False}
# Sealed rows (2,076 bytes at the smallest padding) stay in the table's own pages instead of
# two TOAST chunks each (migration 0018).
INLINE_ON_POSTGRESQL = {"postgresql_with": {"toast_tuple_target": 8160}}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class WaveMode(enum.StrEnum):
    INVITE = "invite"
    OPEN = "open"
    EVENT = "event"


class Role(enum.StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"
    SAFEGUARDING = "safeguarding"  # safeguarding reviewer: the flagged-comments queue only


class Channel(enum.StrEnum):
    """How a response reached us (paper and phone returns are keyed in by analysts)."""

    WEB = "web"
    PAPER = "paper"
    PHONE = "phone"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Store values (not member names) and use a CHECK constraint rather than a native
    # PostgreSQL enum type, so migrations stay the same on both databases.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class InstrumentVersion(Model):
    """One version of an instrument: the validated definition and its content hash."""

    __tablename__ = "instrument_version"
    __table_args__ = (UniqueConstraint("instrument_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(2000))
    audience: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(String(255))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    waves: Mapped[list[Wave]] = relationship(back_populates="instrument_version")

    @property
    def instrument(self) -> Instrument:
        """The stored definition as a validated model (stored only after validation)."""
        return Instrument.model_validate(self.definition)

    @property
    def short_version(self) -> str:
        return self.version[:12]


class Wave(Model):
    """An instrument version fielded to one audience between two dates, in one mode."""

    __tablename__ = "wave"
    __table_args__ = (
        UniqueConstraint("instrument_version_id", "label"),
        CheckConstraint("closes_on >= opens_on", name="dates_in_order"),
        CheckConstraint(
            "audience_size IS NULL OR audience_size > 0", name="audience_size_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_version.id"), index=True
    )
    audience: Mapped[str] = mapped_column(String(16))
    mode: Mapped[WaveMode] = mapped_column(_enum(WaveMode, "wave_mode"))
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    audience_size: Mapped[int | None] = mapped_column(Integer)
    # The public address of an open or event wave; unguessable so waves are not enumerable.
    slug: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: secrets.token_urlsafe(9)
    )

    instrument_version: Mapped[InstrumentVersion] = relationship(back_populates="waves")
    events: Mapped[list[Event]] = relationship(back_populates="wave", cascade="all, delete-orphan")

    @property
    def instrument_id(self) -> str:
        return self.instrument_version.instrument_id

    def is_open(self, today: dt.date | None = None) -> bool:
        today = today or clock.today()
        return self.opens_on <= today <= self.closes_on


class Event(Model):
    """A roadshow session under an event wave, with its own short link and QR code."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    place: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[dt.date] = mapped_column(Date)

    wave: Mapped[Wave] = relationship(back_populates="events")


class Invitation(Model):
    """A one-time personal link. Only a hash of the token is kept, and only a *flag* that it
    was used: no date, so nothing can time a use against a response."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used: Mapped[bool] = mapped_column(default=False)
    # Contact details exist only to send the link and reminders; purged after the wave.
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))


class Response(Model):
    """One anonymous response. No token, user, address, agent or time finer than a day."""

    __tablename__ = "response"
    __table_args__ = (
        CheckConstraint("weight IS NULL OR weight > 0", name="weight_positive"),
        NO_ROWID,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), default=Channel.WEB)
    attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    weight: Mapped[float | None] = mapped_column(Float)

    wave: Mapped[Wave] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.question_id"
    )


class Answer(Model):
    """One answer: a scale position ("1".."k"), "dk" for don't know, a choice label, or
    (redacted) free text. Unanswered questions have no row."""

    __tablename__ = "answer"
    __table_args__ = NO_ROWID

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")


class PopulationMargin(Model):
    """A population total for one category of a raking variable (e.g. residents by ward)."""

    __tablename__ = "population_margin"
    __table_args__ = (
        UniqueConstraint("audience", "variable", "category"),
        CheckConstraint("population > 0", name="population_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(String(16))
    variable: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(200))
    population: Mapped[float] = mapped_column(Float)


class SecondFactor(Model):
    """A staff user's confirmed authenticator app (TOTP, RFC 6238). The shared secret is
    sealed with a key derived from ``SECRET_KEY`` (``survey_app.two_factor``), so a database
    reader cannot make codes. ``enrolment`` is random per set-up: remembered-browser cookies
    carry it, so a reset or a new set-up makes every earlier one worthless. ``last_step`` is
    the TOTP time step of the last code accepted; a code of that step or earlier is refused,
    so no code works twice."""

    __tablename__ = "second_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    enrolment: Mapped[str] = mapped_column(String(32), unique=True, default=random_id)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    enrolled_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="second_factor", cascade="all, delete-orphan", passive_deletes=True
    )


class RecoveryCode(Model):
    """One single-use recovery code of a second factor, as an argon2id hash only; the row is
    deleted when the code is used."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("second_factor.user_id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))

    second_factor: Mapped[SecondFactor] = relationship(back_populates="recovery_codes")


class User(UserMixin, Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Named in every session this user signs in; raising it ends all of them (sign-out,
    # password change or reset, role change, an admin's "sign out everywhere"), including
    # copies of the session cookie, which is signed but kept by the browser.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login's session identifier: the id and the session version."""
        return f"{self.id}.{self.session_version}"

    def end_sessions(self) -> None:
        """Sign this user out everywhere (the caller commits)."""
        self.session_version += 1


class KpiValue(Model):
    """A KPI reading for one period, with where it came from and who recorded it."""

    __tablename__ = "kpi_value"
    __table_args__ = (UniqueConstraint("measure_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Model):
    """Append-only record of staff actions: who, what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's session look-up on every staff request: an inactive or unknown account,
    or a session from before the user's sessions were ended, is signed out."""
    user_part, _, version = user_id.partition(".")
    if not (user_part.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_part))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


class HeldSubmission(Model):
    """A submission waiting to be released into ``response``/``answer``: every web
    submission (invite, open and event) is held first.

    ``sealed`` is the submission (answers, attributes, day, event, invitation) encrypted and
    authenticated with a key derived from the server secret, padded to a fixed size
    (``survey_app/crypto.py``): the database holds no answer in clear and a row's length says
    nothing. Released later in shuffled random batches (``survey_app/ingestion/holding.py``),
    so neither insertion order nor transaction ids pair a response with a person."""

    __tablename__ = "held_submission"
    __table_args__ = {**NO_ROWID, **INLINE_ON_POSTGRESQL}

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class InviteTag(Model):
    """``HMAC(server secret, token)`` of every personal link that has been used: its primary
    key lets one submission per token be held, under concurrency, on both databases. Written
    in the transaction that holds the submission; the invitation itself is marked used
    later, in the shuffled release. Without the server secret a tag cannot be matched to an
    invitation (tokens are not stored, only their SHA-256)."""

    __tablename__ = "invite_tag"
    __table_args__ = NO_ROWID

    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)


class SubmissionKey(Model):
    """The hash of a form's random idempotency key: a second post of the same form is
    refused by the primary key. Says nothing about who answered or what."""

    __tablename__ = "submission_key"
    __table_args__ = NO_ROWID

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_on: Mapped[dt.date] = mapped_column(Date)


class Draft(Model):
    """Answers in progress, for every wave mode, sealed so that only the respondent's browser
    can open them (see ``survey_app.drafts``).

    The row is keyed by SHA-256 of a draft id that only the respondent's session cookie
    holds, and ``sealed`` is padded AES-GCM under a key derived from the server secret, that
    draft id and a second secret in the same cookie: the database holds nothing that opens
    it, and nothing (no token, invitation, address or time) that links it to anyone. Deleted
    in the transaction that holds the submission, and with every other draft of a wave once
    the wave has closed. No rowid on SQLite, so not even insertion order is kept."""

    __tablename__ = "draft"
    __table_args__ = {**NO_ROWID, **INLINE_ON_POSTGRESQL}

    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class MeasureTarget(Model):
    """A change to a measure's baseline, target, date, direction or amber margin. The
    framework file gives the starting values; every change is a new row (who, when, why), and
    the newest row is in force."""

    __tablename__ = "measure_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[str] = mapped_column(String(64), index=True)
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(8))
    amber_margin: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AnalysisResult(Model):
    """The analysis tables for one version of the data (responses, KPIs, targets), so pages
    read stored results and never recompute per request. ``fingerprint`` identifies the data
    they were computed from; a newer fingerprint means the results are out of date."""

    __tablename__ = "analysis_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    responses: Mapped[int] = mapped_column(Integer)
    wave_order: Mapped[list[str]] = mapped_column(JSON)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON)


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    ACTIONED = "actioned"


class SafeguardingFlag(Model):
    """A comment that matched configured safeguarding or whistleblowing signals, for the
    safeguarding reviewer. Keyed by the comment itself (no sequence, no creation time), so a
    flag adds nothing that orders or times a response; only the reviewer's action is dated,
    to the day."""

    __tablename__ = "safeguarding_flag"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    signals: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[FlagStatus] = mapped_column(
        _enum(FlagStatus, "flag_status"), default=FlagStatus.OPEN, index=True
    )
    action: Mapped[str | None] = mapped_column(Text)
    actioned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actioned_on: Mapped[dt.date | None] = mapped_column(Date)

    response: Mapped[Response] = relationship()


class CommentCoding(Model):
    """One coder's themes for one comment, and whether they judged it safe to quote. Coders
    code independently; agreement compares two coders' rows."""

    __tablename__ = "comment_coding"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    themes: Mapped[list[str]] = mapped_column(JSON)
    quotable: Mapped[bool] = mapped_column(default=False)
    coded_on: Mapped[dt.date] = mapped_column(Date)

    coder: Mapped[User] = relationship()


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Job(Model):
    """A background job (see ``survey_app.jobs``). Its state lives here, not in the queue, so
    every process and every page can read it. ``active_key`` holds the job's key while it is
    queued or running and is cleared when it ends: the unique constraint on it is what makes
    two requests (in any processes) never run two jobs with one key at once."""

    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    key: Mapped[str | None] = mapped_column(String(200), index=True)
    active_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    function: Mapped[str] = mapped_column(String(255))
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    IMPORTED = "imported"
    REFUSED = "refused"


class UploadImport(Model):
    """One uploaded file being imported (invitation list, typed-up returns) by a background
    job (``survey_app.imports``). ``key`` is unique: the same form sent again with the same
    file finds this row instead of importing twice. The outcome (rows stored, or every
    problem found) is written in the transaction that stores the rows, so it is exactly once.
    Dated to the day, like everything near responses."""

    __tablename__ = "upload_import"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.QUEUED
    )
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    requested_on: Mapped[dt.date] = mapped_column(Date, default=clock.today)


class WavePublication(Model):
    """A wave's figures as viewers see them: the wave's rows of the stored analysis tables,
    copied when it was published. Viewers never see a live wave's figures, and a published
    wave's figures change only by a new publication (an analyst's audited re-publish, e.g.
    after late paper returns); the newest row of a wave is in force. ``published_by_id`` is
    empty for the publication made automatically once the wave closed and was released."""

    __tablename__ = "wave_publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    responses: Mapped[int] = mapped_column(Integer)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON)

    wave: Mapped[Wave] = relationship()
    published_by: Mapped[User | None] = relationship()


class ActionStatus(enum.StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def is_open(self) -> bool:
        return self in (ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS)


class Action(Model):
    """An action taken on what a survey heard ("you said, we did"). What was heard points at
    the framework (an outcome, and optionally one of its measures or a comment theme) or at a
    heatmap cell, written as its reference. The owner is a staff user or a named officer who
    has no account. ``published`` is an analyst's opt-in to the public page; the public page
    still shows figures only where they are reportable (``survey_app.action_plans``)."""

    __tablename__ = "action"
    __table_args__ = (
        CheckConstraint("owner_user_id IS NOT NULL OR owner_name IS NOT NULL", name="has_owner"),
        CheckConstraint(
            "status != 'dropped' OR dropped_reason IS NOT NULL", name="dropped_has_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    instrument_id: Mapped[str] = mapped_column(String(64), index=True)
    audience: Mapped[str] = mapped_column(String(16))
    heard_wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("wave.id", ondelete="SET NULL"), index=True
    )
    heard: Mapped[str] = mapped_column(Text)
    outcome_id: Mapped[str | None] = mapped_column(String(64), index=True)
    measure_id: Mapped[str | None] = mapped_column(String(64))
    theme_id: Mapped[str | None] = mapped_column(String(64))
    cell: Mapped[str | None] = mapped_column(String(200))
    planned: Mapped[str] = mapped_column(Text)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        _enum(ActionStatus, "action_status"), default=ActionStatus.NOT_STARTED
    )
    dropped_reason: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(500))
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    heard_wave: Mapped[Wave | None] = relationship()
    owner_user: Mapped[User | None] = relationship()
    notes: Mapped[list[ActionNote]] = relationship(
        back_populates="action",
        cascade="all, delete-orphan",
        order_by="ActionNote.id",
    )

    @property
    def owner(self) -> str:
        return self.owner_user.name if self.owner_user is not None else self.owner_name or ""

    def overdue(self, today: dt.date | None = None) -> bool:
        return self.status.is_open and self.due_on < (today or clock.today())


class ActionNote(Model):
    """A progress note on an action, kept as history (never edited): who wrote it, when, and
    the status the action had from then on."""

    __tablename__ = "action_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    written_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus, "action_status"))
    text: Mapped[str] = mapped_column(Text)

    action: Mapped[Action] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


class GroupSize(Model):
    """The size of one group of an audience (e.g. staff in the Place directorate), from an
    analyst's upload of the establishment, for response rates and representativeness. For
    residents the raking margins (:class:`PopulationMargin`) count as sizes too."""

    __tablename__ = "group_size"
    __table_args__ = (
        UniqueConstraint("audience", "attribute", "value"),
        CheckConstraint("size > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(String(16))
    attribute: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_on: Mapped[dt.date] = mapped_column(Date, default=clock.today)


class WaveReminder(Model):
    """A reminder scheduled ``days`` after a wave opens, sent once by ``flask survey remind
    --due`` to the invitations not used by then. ``sent_on`` is set (committed) before any
    e-mail goes, so no reminder is sent twice; ``sent_count`` and ``error`` say how it went.
    Nothing here names a recipient."""

    __tablename__ = "wave_reminder"
    __table_args__ = (
        UniqueConstraint("wave_id", "days"),
        CheckConstraint("days >= 1", name="days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    sent_on: Mapped[dt.date | None] = mapped_column(Date)
    sent_count: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)

    wave: Mapped[Wave] = relationship()

    @property
    def due_on(self) -> dt.date:
        return self.wave.opens_on + dt.timedelta(days=self.days)
