"""Safeguarding flags: every comment that matches a configured safeguarding or whistleblowing
signal gets an open flag in the transaction that stores it, so the designated reviewer sees it
before anyone codes or quotes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import and_, exists, insert, select

from analysis.text.redaction import flag_safeguarding

from ..definitions import current_definitions
from ..extensions import db
from ..models import Answer, FlagStatus, InstrumentVersion, Response, SafeguardingFlag, Wave

_CHUNK = 1000  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def text_question_ids(definition: dict) -> set[str]:
    """The free-text question ids of a stored (already validated) instrument definition; read
    from the JSON directly, because validating it again costs more than a submission does."""
    return {q["id"] for q in definition.get("questions", []) if q.get("type") == "text"}


def flag_comments(response_ids: Iterable[str], signals: Sequence[str] | None = None) -> int:
    """Open a flag for each text answer of these (new) responses that matches a signal, in
    the caller's transaction. ``signals`` defaults to the configured ``redaction.yaml`` ones.
    Returns the number of flags made."""
    if signals is None:
        signals = current_definitions().redaction.safeguarding
    if not signals:
        return 0
    return sum(
        open_flags(_matching_text_answers(chunk, signals)) for chunk in _chunks(response_ids)
    )


def new_answer_flags(
    answers: Mapping[str, Mapping[str, str]],
    text_ids: Iterable[str],
    signals: Sequence[str] | None = None,
) -> list[tuple[str, str, list[str]]]:
    """The flags that answers still in memory need (``{response id: {question id: value}}``,
    text questions ``text_ids``), as (response id, question id, signals found), for
    :func:`open_flags`: nothing is read back from the database, which matters on the submit
    path. ``signals`` defaults to the configured ones."""
    if signals is None:
        signals = current_definitions().redaction.safeguarding
    text_ids = set(text_ids)
    if not signals or not text_ids:
        return []
    return [
        (rid, qid, found)
        for rid, values in answers.items()
        for qid, value in values.items()
        if qid in text_ids and (found := flag_safeguarding(value, signals))
    ]


def open_flags(matches: list[tuple[str, str, list[str]]], connection=None) -> int:
    """Open these flags in the caller's transaction (on ``connection``, default the
    session's); how many."""
    if matches:
        connection = connection if connection is not None else db.session.connection()
        connection.execute(
            insert(SafeguardingFlag.__table__),
            [
                {
                    "response_id": rid,
                    "question_id": qid,
                    "signals": found,
                    "status": FlagStatus.OPEN,
                }
                for rid, qid, found in matches
            ],
        )
    return len(matches)


def _matching_text_answers(
    response_ids: list[str], signals: Sequence[str]
) -> list[tuple[str, str, list[str]]]:
    """(response id, question id, signals found) for the text answers that match. Answers are
    matched first (scale answers like "4" never do), so the usual submission costs one query;
    only a match reads its instrument version to check that the question is a text question."""
    rows = db.session.execute(
        select(Answer.response_id, Answer.question_id, Answer.value, Wave.instrument_version_id)
        .join(Response, Response.id == Answer.response_id)
        .join(Wave, Wave.id == Response.wave_id)
        .where(Answer.response_id.in_(response_ids))
    ).all()
    matched = [
        (rid, qid, vid, found)
        for rid, qid, value, vid in rows
        if (found := flag_safeguarding(value, signals))
    ]
    if not matched:
        return []
    text_ids = {
        vid: text_question_ids(definition)
        for vid, definition in db.session.execute(
            select(InstrumentVersion.id, InstrumentVersion.definition).where(
                InstrumentVersion.id.in_({vid for _, _, vid, _ in matched})
            )
        )
    }
    return [(rid, qid, found) for rid, qid, vid, found in matched if qid in text_ids[vid]]


def not_withheld():
    """A WHERE clause over ``Answer``: no open safeguarding flag on this comment. Comments
    with an open flag are withheld from coding and quotes until the reviewer has acted."""
    return ~exists().where(
        and_(
            SafeguardingFlag.response_id == Answer.response_id,
            SafeguardingFlag.question_id == Answer.question_id,
            SafeguardingFlag.status == FlagStatus.OPEN,
        )
    )


def withheld_comments() -> list[tuple[str, str]]:
    """(response id, question id) of every comment with an open safeguarding flag: the
    comments every export writes as :data:`analysis.text.WITHHELD` until the reviewer acts."""
    return [
        (rid, qid)
        for rid, qid in db.session.execute(
            select(SafeguardingFlag.response_id, SafeguardingFlag.question_id).where(
                SafeguardingFlag.status == FlagStatus.OPEN
            )
        )
    ]
