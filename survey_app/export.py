"""The analysis input file: one row per response. This is the only implementation of the
export schema; every download, CLI export and report reads responses through it.

Columns, in order: ``response_id, instrument, version, audience, wave, submitted_on,
weight, audience_size`` (the wave's audience size, blank when unknown), then respondent
attribute columns (``channel``, ``event``, then the instruments' "about you" attributes), then one column per question id. Scale answers are their 1-based
position, don't-know is ``dk``, unanswered is blank, choices are their label, free text is as
stored (already redacted at ingest), except that a comment with an open safeguarding flag is
``[withheld: safeguarding review]`` (:data:`analysis.text.WITHHELD`) until the reviewer has
acted on it: the flagged text never reaches a file, and the analysis (in the app and the CLI
alike) leaves the placeholder out of comment counts and themes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

import pandas as pd
from sqlalchemy import func, select

from analysis import spreadsheet
from analysis.text import WITHHELD
from instruments import Instrument

from .comments.flags import withheld_comments
from .extensions import db
from .models import Answer, Event, InstrumentVersion, Response, Wave

FIXED_COLUMNS = ["response_id", "instrument", "version", "audience", "wave", "submitted_on", "weight",
                 "audience_size"]
RESPONSE_ATTRIBUTES = ["channel", "event"]


def _column_order(instruments: Iterable[Instrument]) -> tuple[list[str], list[str]]:
    attributes: list[str] = list(RESPONSE_ATTRIBUTES)
    questions: list[str] = []
    for instrument in instruments:
        attributes += [a.id for a in instrument.attributes if a.id not in attributes]
        questions += [q.id for q in instrument.questions if q.id not in questions]
    return attributes, questions


def responses_frame(wave_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """All responses of the given waves (all waves when ``None``) in the export schema.

    Every value is a string or blank (``NaN``) except ``weight``; rows are ordered by
    instrument, wave and response id (random), never by insertion.
    """
    wave_filter = None if wave_ids is None else sorted(set(wave_ids))
    query = (
        select(
            Response.id.label("response_id"),
            InstrumentVersion.instrument_id.label("instrument"),
            InstrumentVersion.version.label("version"),
            Wave.audience.label("audience"),
            Wave.label.label("wave"),
            Response.submitted_on,
            Response.weight,
            Wave.audience_size,
            Response.channel,
            Event.code.label("event"),
            Response.attributes,
        )
        .join(Wave, Response.wave_id == Wave.id)
        .join(InstrumentVersion, Wave.instrument_version_id == InstrumentVersion.id)
        .outerjoin(Event, Response.event_id == Event.id)
    )
    fielded = select(Wave.instrument_version_id)
    if wave_filter is not None:
        query = query.where(Wave.id.in_(wave_filter))
        fielded = fielded.where(Wave.id.in_(wave_filter))
    version_query = select(InstrumentVersion).where(InstrumentVersion.id.in_(fielded))
    rows = db.session.execute(query).all()
    versions = sorted(db.session.scalars(version_query).all(), key=lambda v: (v.instrument_id, v.id))
    attribute_columns, question_columns = _column_order(v.instrument for v in versions)

    base = pd.DataFrame(
        [
            {
                "response_id": r.response_id,
                "instrument": r.instrument,
                "version": r.version,
                "audience": r.audience,
                "wave": r.wave,
                "submitted_on": r.submitted_on.isoformat(),
                "weight": r.weight,
                "audience_size": r.audience_size,
                "channel": str(r.channel),
                "event": r.event,
                **{k: v for k, v in (r.attributes or {}).items() if k not in FIXED_COLUMNS},
            }
            for r in rows
        ],
        columns=FIXED_COLUMNS + attribute_columns,
    )
    extra_attributes = [c for c in base.columns if c not in FIXED_COLUMNS + attribute_columns]
    attribute_columns += sorted(extra_attributes)

    answers = _withhold_flagged(_answers_wide(wave_filter, question_columns))
    question_columns += [c for c in answers.columns if c not in question_columns]
    frame = base.join(answers, on="response_id")
    frame = frame.reindex(columns=FIXED_COLUMNS + attribute_columns + question_columns)
    frame["weight"] = pd.to_numeric(frame["weight"], errors="coerce")
    frame["audience_size"] = frame["audience_size"].astype("Int64")  # a whole number, or blank
    return frame.sort_values(["instrument", "wave", "response_id"], kind="stable").reset_index(drop=True)


_OTHERS = "(answers to other questions)"


def _answers_wide(wave_filter: list[int] | None, question_ids: list[str]) -> pd.DataFrame:
    """Answers pivoted to one column per question, indexed by response id.

    The pivot is done by the database in one pass over ``answer`` (grouped by response, one
    ``max(value) FILTER (WHERE question_id = ...)`` per question: a response has at most one
    answer per question), so a million responses cost one query and one row each, not twenty
    rows each and a pandas pivot. The same pass counts answers to question ids that none of
    the fielded versions has (kept from an earlier definition); only if there are any is a
    second pass made with those columns added (sorted, after the others).
    """
    frame = _pivot(wave_filter, question_ids)
    if frame.pop(_OTHERS).astype(int).any():
        frame = _pivot(wave_filter, question_ids + _other_question_ids(wave_filter, question_ids))
        frame.pop(_OTHERS)
    return frame


def _pivot(wave_filter: list[int] | None, question_ids: list[str]) -> pd.DataFrame:
    others = func.count().filter(Answer.question_id.not_in(question_ids)) if question_ids else func.count()
    query = select(Answer.response_id, others.label("others"), *(
        func.max(Answer.value).filter(Answer.question_id == question_id).label(f"q{i}")
        for i, question_id in enumerate(question_ids)
    )).group_by(Answer.response_id)
    if wave_filter is not None:
        query = query.join(Response, Response.id == Answer.response_id).where(Response.wave_id.in_(wave_filter))
    rows = db.session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["response_id", _OTHERS, *question_ids])
    frame.index = pd.Index(frame.pop("response_id"), dtype=object)  # as the response table's ids
    return frame


def _other_question_ids(wave_filter: list[int] | None, known: list[str]) -> list[str]:
    """Question ids answered in these waves that none of ``known`` is, sorted."""
    query = select(Answer.question_id).distinct()
    if known:
        query = query.where(Answer.question_id.not_in(known))
    if wave_filter is not None:
        query = query.join(Response, Response.id == Answer.response_id).where(Response.wave_id.in_(wave_filter))
    return sorted(db.session.scalars(query).all())


def _withhold_flagged(answers: pd.DataFrame) -> pd.DataFrame:
    """``answers`` (one row per response, one column per question) with every comment that
    has an open safeguarding flag replaced by :data:`WITHHELD`. Open flags are few, so they
    are read once and matched here rather than joined to every answer row."""
    for response_id, question_id in withheld_comments():
        if response_id not in answers.index or question_id not in answers.columns:
            continue  # another wave's comment
        answers.loc[response_id, question_id] = WITHHELD
    return answers


def write_csv(frame: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """Write the export frame as UTF-8 CSV with blanks for missing values, full precision and
    text a spreadsheet would evaluate quoted (:mod:`analysis.spreadsheet`)."""
    spreadsheet.write_csv(frame, target)
