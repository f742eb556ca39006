"""Validating a submission and writing responses: the one place a response is made, for
every channel (web submissions released from holding, paper and phone returns, the demo).

Validation (:func:`validate`) is the respondent pages' own: every value checked against its
question, free text stripped and redacted with the council's configured names
(``survey.forms.clean_answers``, so the original text is never stored). Writing
(:func:`insert_responses`) inserts the responses and their answers and opens a safeguarding
flag for every comment that matches a configured signal, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    Date,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    insert,
    null,
    select,
)

from instruments import Instrument

from ..comments.flags import new_answer_flags, open_flags
from ..models import Answer, Channel, Response, random_id
from .errors import Invalid


@dataclass(frozen=True)
class Submission:
    """One validated, redacted set of answers and how it reached us. ``invitation_id`` is
    set only while an invite submission is held (it never reaches ``response``)."""

    questions: dict[str, str]
    attributes: dict[str, str]
    day: dt.date
    event_id: int | None = None
    channel: Channel = Channel.WEB
    invitation_id: int | None = field(default=None)

    def as_plain(self) -> dict[str, Any]:
        """JSON-ready form, for sealing while held."""
        return {
            "q": self.questions,
            "a": self.attributes,
            "d": self.day.isoformat(),
            "e": self.event_id,
            "c": self.channel.value,
            "i": self.invitation_id,
        }

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> Submission:
        return cls(
            questions=dict(plain["q"]),
            attributes=dict(plain["a"]),
            day=dt.date.fromisoformat(plain["d"]),
            event_id=plain.get("e"),
            channel=Channel(plain.get("c", Channel.WEB.value)),
            invitation_id=plain.get("i"),
        )


def validate(
    instrument: Instrument, answers: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Stored values of a complete set of answers: (answers by question id, attributes by
    attribute id), comments redacted; raises :class:`Invalid` with every problem."""
    # Imported here: survey.forms belongs to the survey blueprint, which imports this package.
    from ..survey.forms import clean_answers

    questions, attributes, problems = clean_answers(instrument, answers)
    if problems:
        raise Invalid(problems)
    return questions, attributes


def text_question_ids(instrument: Instrument) -> list[str]:
    return [q.id for q in instrument.questions if q.type == "text"]


def _arrays(**columns):
    """PostgreSQL: rows from parallel array parameters ``<name>s``, a column per name, of
    the element type given."""
    return (
        func.unnest(*(bindparam(f"{name}s", type_=ARRAY(kind)) for name, kind in columns.items()))
        .table_valued(*columns)
        .render_derived()
    )


# PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) for any number of responses or
# answers. psycopg's executemany sends one INSERT per row, which the server parses and runs
# each time, and a multi-row VALUES statement is compiled afresh for every row count (no
# statement cache). unnest keeps the arrays' order, so rows are written in the order given.
_ANSWER_COLUMNS = ("response_id", "question_id", "value")
_ANSWERS_FROM_ARRAYS = insert(Answer.__table__).from_select(
    list(_ANSWER_COLUMNS), select(*_arrays(**dict.fromkeys(_ANSWER_COLUMNS, Text)).c)
)
_RESPONSE_ROWS = _arrays(
    id=Text, event_id=Integer, submitted_on=Date, channel=Text, attributes=Text
)
_RESPONSES_FROM_ARRAYS = insert(Response.__table__).from_select(
    ["id", "wave_id", "event_id", "submitted_on", "channel", "attributes", "weight"],
    select(
        _RESPONSE_ROWS.c.id,
        bindparam("wave_id", type_=Integer),
        _RESPONSE_ROWS.c.event_id,
        _RESPONSE_ROWS.c.submitted_on,
        _RESPONSE_ROWS.c.channel,
        cast(_RESPONSE_ROWS.c.attributes, JSON),
        null(),
    ),
)


def insert_responses(
    connection: Connection,
    wave_id: int,
    submissions: Sequence[Submission],
    text_ids: Iterable[str],
    *,
    ids: Sequence[str] | None = None,
    signals: Sequence[str] | None = None,
) -> list[str]:
    """Insert these submissions as responses with their answers, in the order given, and
    open their safeguarding flags (comments to the text questions ``text_ids`` that match
    ``signals``, default the configured ones), all in ``connection``'s transaction. Returns
    the response ids (``ids`` if given, else fresh random 128-bit ones)."""
    ids = list(ids) if ids is not None else [random_id() for _ in submissions]
    pairs = list(zip(ids, submissions, strict=True))
    if not pairs:
        return ids
    answer_rows = [
        {"response_id": response_id, "question_id": q, "value": v}
        for response_id, submission in pairs
        for q, v in submission.questions.items()
    ]
    if connection.dialect.name == "postgresql":
        connection.execute(
            _RESPONSES_FROM_ARRAYS,
            {
                "wave_id": wave_id,
                "ids": ids,
                "event_ids": [s.event_id for s in submissions],
                "submitted_ons": [s.day for s in submissions],
                "channels": [s.channel.value for s in submissions],
                "attributess": [json.dumps(s.attributes) for s in submissions],
            },
        )
        if answer_rows:
            connection.execute(
                _ANSWERS_FROM_ARRAYS,
                {f"{column}s": [row[column] for row in answer_rows] for column in _ANSWER_COLUMNS},
            )
    else:  # SQLite's executemany runs one prepared statement in process: cheap
        responses = [
            {
                "id": response_id,
                "wave_id": wave_id,
                "event_id": submission.event_id,
                "submitted_on": submission.day,
                "channel": submission.channel,
                "attributes": submission.attributes,
                "weight": None,
            }
            for response_id, submission in pairs
        ]
        connection.execute(insert(Response.__table__), responses)
        if answer_rows:
            connection.execute(insert(Answer.__table__), answer_rows)
    flags = new_answer_flags({rid: s.questions for rid, s in pairs}, text_ids, signals)
    open_flags(flags, connection)
    return ids
