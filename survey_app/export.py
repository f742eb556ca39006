"""The analysis input file: one row per response. This is the only implementation of the
export schema; every download, CLI export and report reads responses through it.

Columns, in order: ``response_id, instrument, version, audience, wave, submitted_on,
weight, audience_size`` (the wave's audience size, blank when unknown), then respondent
attribute columns (``channel``, ``event``, then the instruments' "about you" attributes), then one column per question id. Scale answers are their 1-based
position, don't-know is ``dk``, unanswered is blank, choices are their label, free text is as
stored (already redacted at ingest).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

import pandas as pd
from sqlalchemy import select

from instruments import Instrument

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

    answers = _answers_wide(base["response_id"].tolist())
    unknown_questions = [c for c in answers.columns if c not in question_columns]
    question_columns += sorted(unknown_questions)
    frame = base.join(answers, on="response_id")
    frame = frame.reindex(columns=FIXED_COLUMNS + attribute_columns + question_columns)
    frame["weight"] = pd.to_numeric(frame["weight"], errors="coerce")
    frame["audience_size"] = frame["audience_size"].astype("Int64")  # a whole number, or blank
    return frame.sort_values(["instrument", "wave", "response_id"], kind="stable").reset_index(drop=True)


def _answers_wide(response_ids: list[str], chunk: int = 900) -> pd.DataFrame:
    """Answers pivoted to one column per question, fetched in chunks (bound-parameter limits)."""
    parts = []
    for start in range(0, len(response_ids), chunk):
        ids = response_ids[start : start + chunk]
        parts += db.session.execute(
            select(Answer.response_id, Answer.question_id, Answer.value).where(Answer.response_id.in_(ids))
        ).all()
    long = pd.DataFrame(parts, columns=["response_id", "question_id", "value"], dtype=object)
    if long.empty:
        return pd.DataFrame(index=pd.Index([], name="response_id"))
    return long.pivot(index="response_id", columns="question_id", values="value")


def write_csv(frame: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """Write the export frame as UTF-8 CSV with blanks for missing values, full precision."""
    frame.to_csv(target, index=False, na_rep="", float_format="%.17g", lineterminator="\n")
