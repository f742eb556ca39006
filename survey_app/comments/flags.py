"""Safeguarding flags: every comment that matches a configured safeguarding or whistleblowing
signal gets an open flag in the transaction that stores it, so the designated reviewer sees it
before anyone codes or quotes it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, exists, insert, select

from analysis.text.redaction import flag_safeguarding

from ..definitions import current_definitions
from ..extensions import db
from ..models import Answer, FlagStatus, InstrumentVersion, Response, SafeguardingFlag, Wave

_CHUNK = 1000  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def text_question_ids(version: InstrumentVersion) -> set[str]:
    return {q.id for q in version.instrument.questions if q.type == "text"}


def flag_comments(response_ids: Iterable[str], signals: Sequence[str] | None = None) -> int:
    """Open a flag for each text answer of these (new) responses that matches a signal, in
    the caller's transaction. ``signals`` defaults to the configured ``redaction.yaml`` ones.
    Returns the number of flags made."""
    if signals is None:
        signals = current_definitions().redaction.safeguarding
    if not signals:
        return 0
    made = 0
    for chunk in _chunks(response_ids):
        rows = []
        for response_id, question_id, value, version in _text_answers(chunk):
            found = flag_safeguarding(value, signals)
            if found:
                rows.append({"response_id": response_id, "question_id": question_id,
                             "signals": found, "status": FlagStatus.OPEN})
        if rows:
            db.session.execute(insert(SafeguardingFlag), rows)
        made += len(rows)
    return made


def _text_answers(response_ids: list[str]) -> Iterable[tuple[str, str, str, InstrumentVersion]]:
    versions = db.session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.id.in_(
            select(Wave.instrument_version_id).join(Response, Response.wave_id == Wave.id)
            .where(Response.id.in_(response_ids))))).all()
    text_ids = {v.id: text_question_ids(v) for v in versions}
    wanted = set().union(*text_ids.values()) if text_ids else set()
    if not wanted:
        return []
    rows = db.session.execute(
        select(Answer.response_id, Answer.question_id, Answer.value, Wave.instrument_version_id)
        .join(Response, Response.id == Answer.response_id).join(Wave, Wave.id == Response.wave_id)
        .where(Answer.response_id.in_(response_ids), Answer.question_id.in_(wanted))).all()
    by_id = {v.id: v for v in versions}
    return [(rid, qid, value, by_id[vid]) for rid, qid, value, vid in rows if qid in text_ids[vid]]


def not_withheld():
    """A WHERE clause over ``Answer``: no open safeguarding flag on this comment. Comments
    with an open flag are withheld from coding and quotes until the reviewer has acted."""
    return ~exists().where(and_(SafeguardingFlag.response_id == Answer.response_id,
                                SafeguardingFlag.question_id == Answer.question_id,
                                SafeguardingFlag.status == FlagStatus.OPEN))
