"""The analysis input file: one row per response. This is the only implementation of the
export schema; every download, CLI export and report reads responses through it.

Columns, in order: ``response_id, instrument, version, audience, wave, submitted_on,
weight, audience_size`` (the wave's audience size, blank when unknown), then respondent
attribute columns (``channel``, ``event``, then the instruments' "about you" attributes), then
one column per question id (a grid's statements each have their own). Scale answers are their
1-based position, don't-know is ``dk``, unanswered is blank, a question that was not asked
(its ``show_if`` did not hold) is ``na``, choices are their label, numbers are numbers, a multi
question is one column per choice, ``<id>_<1-based position>`` (:func:`multi_columns`), free
text is as stored (already redacted at ingest), except that a comment with an open safeguarding flag is
``[withheld: safeguarding review]`` (:data:`analysis.text.WITHHELD`) until the reviewer has
acted on it: the flagged text never reaches a file, and the analysis (in the app and the CLI
alike) leaves the placeholder out of comment counts and themes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd
from sqlalchemy import Text, cast, func, select

from analysis import spreadsheet
from analysis.responses import multi_columns
from analysis.text import WITHHELD
from instruments import Instrument

from .comments.flags import withheld_comments
from .extensions import db
from .models import Answer, Event, InstrumentVersion, Response, Wave

FIXED_COLUMNS = [
    "response_id",
    "instrument",
    "version",
    "audience",
    "wave",
    "submitted_on",
    "weight",
    "audience_size",
]
RESPONSE_ATTRIBUTES = ["channel", "event"]
# PostgreSQL's memory for sorting and hashing while the responses are read (see _read).
READ_WORK_MEM = "256MB"


def _column_order(instruments: Iterable[Instrument]) -> tuple[list[str], list[str]]:
    attributes: list[str] = list(RESPONSE_ATTRIBUTES)
    questions: list[str] = []
    for instrument in instruments:
        attributes += [a.id for a in instrument.attributes if a.id not in attributes]
        questions += [q.id for q in instrument.answer_items if q.id not in questions]
    return attributes, questions


def _multi_choices(instruments: Iterable[Instrument]) -> dict[str, tuple[int, set[str]]]:
    """Multi question id -> its number of choices (the most any fielded version has) and the
    instruments where it is a multi question."""
    found: dict[str, tuple[int, set[str]]] = {}
    for instrument in instruments:
        for question in instrument.questions:
            if question.type == "multi":
                count, owners = found.get(question.id, (0, set()))
                found[question.id] = (
                    max(count, len(question.choices or [])),
                    owners | {instrument.id},
                )
    return found


def _expand_multi(frame: pd.DataFrame, instruments: list[Instrument]) -> pd.DataFrame:
    """Each multi question's column as one column per choice, in its place. Only the rows of
    instruments where the id is a multi question are expanded; if another instrument uses the
    same id for another kind of question, its column stays for that instrument's rows."""
    for question_id, (choices, owners) in _multi_choices(instruments).items():
        at = frame.columns.get_loc(question_id)
        rows = frame["instrument"].isin(list(owners))
        values = frame[question_id].where(rows)
        expanded = multi_columns(values, question_id, choices)
        shared = any(
            i.id not in owners and question_id in {q.id for q in i.answer_items}
            for i in instruments
        )
        if shared:
            frame[question_id] = frame[question_id].where(~rows)
            at += 1
        else:
            frame = frame.drop(columns=question_id)
        frame = pd.concat([frame.iloc[:, :at], expanded, frame.iloc[:, at:]], axis=1)
    return frame


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
            # As text, decoded in one call below: psycopg's per-row JSON loads cost more than
            # the rest of the read at a million responses.
            cast(Response.attributes, Text).label("attributes"),
        )
        .join(Wave, Response.wave_id == Wave.id)
        .join(InstrumentVersion, Wave.instrument_version_id == InstrumentVersion.id)
        .outerjoin(Event, Response.event_id == Event.id)
        # The export's order, sorted by the database: pandas' sort of a million rows on
        # three text columns (a million distinct ids) took 5 s. Bytewise, as Python
        # compares strings (UTF-8 bytes sort as code points).
        .order_by(
            _bytewise(InstrumentVersion.instrument_id),
            _bytewise(Wave.label),
            _bytewise(Response.id),
        )
    )
    fielded = select(Wave.instrument_version_id)
    if wave_filter is not None:
        query = query.where(Wave.id.in_(wave_filter))
        fielded = fielded.where(Wave.id.in_(wave_filter))
    version_query = select(InstrumentVersion).where(InstrumentVersion.id.in_(fielded))
    versions = sorted(
        db.session.scalars(version_query).all(), key=lambda v: (v.instrument_id, v.id)
    )
    attribute_columns, question_columns = _column_order(v.instrument for v in versions)
    base = _base_frame(query, attribute_columns)
    extra_attributes = [c for c in base.columns if c not in FIXED_COLUMNS + attribute_columns]
    attribute_columns += sorted(extra_attributes)

    answers = _withhold_flagged(_answers_wide(wave_filter, question_columns))
    question_columns += [c for c in answers.columns if c not in question_columns]
    frame = base.join(answers, on="response_id")
    frame = frame.reindex(columns=FIXED_COLUMNS + attribute_columns + question_columns)
    frame = _expand_multi(frame, [v.instrument for v in versions])
    frame["weight"] = pd.to_numeric(frame["weight"], errors="coerce")
    frame["audience_size"] = frame["audience_size"].astype("Int64")  # a whole number, or blank
    return frame.reset_index(drop=True)  # in the base query's order (a left join keeps it)


def _bytewise(column: Any) -> Any:
    """``column`` compared byte by byte: ``COLLATE "C"`` on PostgreSQL (whose database
    collation may compare by locale, through strcoll), as is on SQLite (whose default
    collation, BINARY, compares bytes)."""
    if db.session.connection().dialect.name == "postgresql":
        return column.collate("C")
    return column


def _read(query) -> pd.DataFrame:
    """A query's rows as a frame, in the session's transaction. On PostgreSQL through ``COPY
    ... TO STDOUT`` and pandas' CSV parser, so no Python object is made per value; elsewhere
    from the connection's rows. Values come back as text (blanks as NaN), as the export has them."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return _columns(connection.execute(query))
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    raw = connection.connection.dbapi_connection
    if raw is None:  # a pooled connection is always open here; mypy cannot know it
        raise RuntimeError("the database connection was closed")
    cursor: Any = raw.cursor()  # psycopg's cursor: a context manager with copy()
    with cursor:
        # The answers' pivot groups every answer by response: with the default 4 MB of
        # work_mem PostgreSQL sorts them on disk (an external merge, most of the read's time
        # at 100,000 responses), with enough it aggregates them in memory; and compiling
        # its 21 aggregates with JIT costs more than it saves. For this statement only.
        cursor.execute(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")
        cursor.execute("SET LOCAL jit = off")
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy:
            frame = pd.read_csv(_CopyStream(copy), dtype=str, keep_default_na=False, na_values=[""])
        cursor.execute("SET LOCAL work_mem TO DEFAULT")
        cursor.execute("SET LOCAL jit TO DEFAULT")
    for column in [c for c in frame.columns if frame[c].isna().all()]:
        frame[column] = pd.Series([None] * len(frame), dtype=object)  # as the driver gives NULLs
    return frame


class _CopyStream(io.RawIOBase):
    """The data of a ``COPY ... TO STDOUT`` (psycopg's :class:`~psycopg.Copy`, one block per
    row) as a binary file for pandas' CSV parser. The parser reads it a buffer at a time, so
    it parses while the server is still producing rows (at a million responses the answers'
    pivot sends its rows over several seconds), and the whole result is never held as bytes
    besides the frame."""

    def __init__(self, copy: Any) -> None:
        super().__init__()
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target):
            if not self._pending:
                block = next(self._blocks, None)
                if block is None:  # the end of the data
                    break
                self._pending = memoryview(block).cast("B")
            size = min(len(target) - filled, len(self._pending))
            target[filled : filled + size] = self._pending[:size]
            self._pending = self._pending[size:]
            filled += size
        return filled


def _columns(result) -> pd.DataFrame:
    """A result as a frame, built column by column (pandas inspects every row object it is
    given as a row, which costs more than the fetch for a million SQLAlchemy rows)."""
    names = list(result.keys())
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pd.DataFrame(
        {name: list(values) for name, values in zip(names, columns, strict=True)}, columns=names
    )


def _base_frame(query, attribute_columns: list[str]) -> pd.DataFrame:
    """One row per response: the fixed columns and the respondent attributes (an attribute
    stored under a fixed column's name is ignored; ``channel``/``event`` stored as attributes
    override the response's own). Read through the connection, not the ORM, and built column
    by column: at a million responses per-row Python work is what the read costs."""
    raw = _read(query)
    # Per-value loops go over NumPy object arrays: iterating a pandas text column yields its
    # values one scalar lookup at a time, several times slower.
    texts = raw.pop("attributes").fillna("null").to_numpy(dtype=object)
    decoded = json.loads("[" + ",".join(texts) + "]")
    wanted = [c for c in attribute_columns if c not in FIXED_COLUMNS]
    attributes = pd.DataFrame.from_records(
        [d or {} for d in decoded], columns=wanted, index=raw.index
    )
    base = raw.copy()
    base["submitted_on"] = [
        day.isoformat() if hasattr(day, "isoformat") else day
        for day in base["submitted_on"].to_numpy(dtype=object)
    ]
    base["channel"] = [str(channel) for channel in base["channel"].to_numpy(dtype=object)]
    for column in RESPONSE_ATTRIBUTES:  # an attribute of that name, where given, wins
        stored = attributes.pop(column) if column in attributes else None
        if stored is not None and stored.notna().any():
            base[column] = stored.combine_first(base[column])
    base = pd.concat([base, attributes], axis=1)
    return base.reindex(columns=FIXED_COLUMNS + attribute_columns)


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
    others = (
        func.count().filter(Answer.question_id.not_in(question_ids))
        if question_ids
        else func.count()
    )
    # Grouped bytewise: with the database's collation every comparison of the sort that a
    # million responses need (too many groups to hash in work_mem) calls strcoll, which made
    # that sort most of the read. Ids are equal bytewise exactly when they are equal in any
    # deterministic collation, so the groups are the same.
    response_id = _bytewise(Answer.response_id)
    query = select(
        response_id.label("response_id"),
        others.label("others"),
        *(
            func.max(Answer.value).filter(Answer.question_id == question_id).label(f"q{i}")
            for i, question_id in enumerate(question_ids)
        ),
    ).group_by(response_id)
    if wave_filter is not None:
        query = query.join(Response, Response.id == Answer.response_id).where(
            Response.wave_id.in_(wave_filter)
        )
    frame = _read(query)
    frame.columns = ["response_id", _OTHERS, *question_ids]
    frame.index = pd.Index(frame.pop("response_id"), dtype=object)  # as the response table's ids
    return frame


def _other_question_ids(wave_filter: list[int] | None, known: list[str]) -> list[str]:
    """Question ids answered in these waves that none of ``known`` is, sorted."""
    query = select(Answer.question_id).distinct()
    if known:
        query = query.where(Answer.question_id.not_in(known))
    if wave_filter is not None:
        query = query.join(Response, Response.id == Answer.response_id).where(
            Response.wave_id.in_(wave_filter)
        )
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


def fielded_instruments(wave_ids: Iterable[int] | None = None) -> list[Instrument]:
    """The instrument versions the given waves fielded (all when ``None``), oldest first."""
    query = select(InstrumentVersion).join(Wave, Wave.instrument_version_id == InstrumentVersion.id)
    if wave_ids is not None:
        query = query.where(Wave.id.in_(sorted(set(wave_ids))))
    versions = db.session.scalars(query.distinct().order_by(InstrumentVersion.id)).all()
    return [v.instrument for v in versions]


def labelled_bytes(frame: pd.DataFrame, instruments: list[Instrument], fmt: str) -> bytes:
    """The export frame as a labelled SPSS (``sav``) or Stata (``dta``) file's bytes
    (:mod:`analysis.labelled`: variable and value labels, ``dk`` and ``na`` user-missing)."""
    import tempfile

    from analysis.labelled import write_labelled

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"responses.{fmt}"
        write_labelled(frame, instruments, path, fmt)  # type: ignore[arg-type]
        return path.read_bytes()
