"""Reading and checking the analysis input (the app's export file) and preparing each
instrument's answers as numeric matrices.

Bad input raises ``ValueError`` naming the column and the rows (index labels; the CLI sets
them to CSV line numbers), never a half-finished analysis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from instruments import Definitions, Instrument
from instruments.routing import ticked_positions

from .design import WaveDesign, weigh_waves
from .margins import not_stated
from .notes import Note
from .scoring import is_positive, item_score
from .spreadsheet import read_csv
from .suppression import CROSS
from .text.redaction import redact_series

REQUIRED_COLUMNS = ("instrument", "audience", "wave")
KNOWN_COLUMNS = frozenset(
    {
        "response_id",
        "instrument",
        "version",
        "audience",
        "wave",
        "submitted_on",
        "weight",
        "audience_size",
        "channel",
        "event",
    }
)
# A weight this many times the median is kept but named in a note (its cost shows in deff).
ABSURD_WEIGHT_RATIO = 1000
DONT_KNOW = "dk"
NOT_ASKED = "na"  # the question's show_if did not hold: not in its base
NOT_STATED = "(not stated)"
NOT_ASKED_GROUP = "(not asked)"


def describe_rows(labels: Iterable, limit: int = 8) -> str:
    labels = list(labels)
    shown = ", ".join(str(x) for x in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"row{'s' if len(labels) != 1 else ''} {shown}{more}"


def read_responses(path: str | Path) -> pd.DataFrame:
    """Read an export CSV as text, indexed by file line number (header = line 1). Text the
    export quoted against spreadsheet formulas reads back as it was stored
    (:func:`analysis.spreadsheet.restore`)."""
    path = Path(path)
    try:
        frame = read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None
    if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
        raise ValueError(
            f"{path}: the file is separated by semicolons (header {frame.columns[0]!r}); "
            "save it as comma-separated CSV"
        )
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    return frame


def read_population(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        frame = read_csv(
            path,
            dtype={"audience": str, "variable": str, "category": str},
            keep_default_na=False,
            na_values=[""],
        )
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    return frame


def population_margins(population: pd.DataFrame | None) -> dict[str, dict[str, dict[str, float]]]:
    """``{audience: {variable: {category: total}}}`` from the population table."""
    if population is None:
        return {}
    missing = [c for c in ("audience", "variable", "category", "population") if c not in population]
    if missing:
        raise ValueError(f"population file: missing column(s) {', '.join(missing)}")
    totals = pd.to_numeric(population["population"], errors="coerce")
    bad = population.index[totals.isna() | (totals < 0)]
    if len(bad):
        raise ValueError(
            f"population file: column population must be a number >= 0 at {describe_rows(bad)}"
        )
    blank = population.index[population[["audience", "variable", "category"]].isna().any(axis=1)]
    if len(blank):
        raise ValueError(
            f"population file: blank audience, variable or category at {describe_rows(blank)}"
        )
    margins: dict[str, dict[str, dict[str, float]]] = {}
    for (audience, variable, category), total in zip(
        population[["audience", "variable", "category"]].itertuples(index=False),
        totals,
        strict=True,
    ):
        categories = margins.setdefault(audience, {}).setdefault(variable, {})
        if category in categories:
            raise ValueError(f"population file: {audience}/{variable}/{category} appears twice")
        categories[category] = float(total)
    return margins


@dataclass
class Prepared:
    """One instrument's respondents as numeric matrices (rows aligned with ``frame``)."""

    instrument: Instrument
    frame: pd.DataFrame
    weight: np.ndarray
    weighted_waves: set[str]
    positive: (
        pd.DataFrame
    )  # 1/0 per item (scale items, multi choices), NaN when not validly answered
    score: pd.DataFrame  # 0-100 per item, reverse items flipped
    dropped: int = 0
    notes: list[Note] = field(default_factory=list)
    designs: dict[str, WaveDesign] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # wave -> why it could not be estimated
    # True where the item was asked (not ``na``): "at least half the items" counts these
    asked: pd.DataFrame | None = None
    numbers: pd.DataFrame | None = None  # number questions as floats, NaN when blank or na

    @property
    def audience(self) -> str:
        return self.instrument.audience

    @property
    def waves(self) -> pd.Series:
        return self.frame["wave"]


def check_frame(frame: pd.DataFrame, definitions: Definitions) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("responses must be a pandas DataFrame")  # noqa: TRY004 - bad input is a ValueError here
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"responses: missing required column(s) {', '.join(missing)}")
    for column in REQUIRED_COLUMNS:
        # Test the column's few distinct values for blankness, not every cell.
        values = frame[column]
        blank_values = [v for v in values.dropna().unique() if str(v).strip() == ""]
        blank = frame.index[values.isna() | values.isin(blank_values)]
        if len(blank):
            raise ValueError(f"responses: column {column} is blank at {describe_rows(blank)}")
    unknown = frame.loc[~frame["instrument"].isin(list(definitions.instruments)), "instrument"]
    if len(unknown):
        names = ", ".join(sorted(set(unknown.astype(str))))
        raise ValueError(
            f"responses: column instrument names unknown instrument(s) {names} at "
            f"{describe_rows(unknown.index)} (known: {', '.join(sorted(definitions.instruments))})"
        )
    if "response_id" in frame:
        ids = frame["response_id"]
        duplicated = frame.index[ids.notna() & ids.duplicated(keep=False)]
        if len(duplicated):
            raise ValueError(
                f"responses: column response_id is duplicated at {describe_rows(duplicated)} "
                f"(e.g. {ids[duplicated[0]]!r})"
            )


def _scale_positions(values: pd.Series, k: int, column: str) -> np.ndarray:
    """Scale codes as float positions; NaN for blank and ``dk``. Anything else is an error.

    Works on the column's few distinct values (a categorical), not on every cell."""
    categorical = pd.Categorical(values)
    lookup = np.full(len(categorical.categories) + 1, np.nan)  # last slot: blank (code -1)
    bad_codes = []
    for code, raw in enumerate(categorical.categories):
        text = str(raw).strip().lower()
        if text in ("", DONT_KNOW, NOT_ASKED):
            continue
        try:
            number = float(text)
        except ValueError:
            number = np.nan
        if not (np.isfinite(number) and number % 1 == 0 and 1 <= number <= k):
            bad_codes.append(code)
        lookup[code] = number
    if bad_codes:
        bad = values.index[np.isin(categorical.codes, bad_codes)]
        example = values[bad[0]]
        if _is_number(example):
            problem = f"codes outside the scale 1-{k}"
        else:
            problem = f"codes that are not scale positions 1-{k} or '{DONT_KNOW}'"
        raise ValueError(
            f"responses: column {column} has {problem} at {describe_rows(bad)} (e.g. {example!r})"
        )
    return lookup[categorical.codes]


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _check_unknown_questions(
    frame: pd.DataFrame, instrument: Instrument, allowed: set[str]
) -> None:
    """A column with scale-like codes for this instrument's rows that the instrument does not
    define is an unknown question id (other columns are taken as respondent attributes)."""
    for column in frame.columns:
        if column in allowed or column in KNOWN_COLUMNS:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        text = values.astype(str).str.strip().str.lower()
        if text.str.fullmatch(r"\d+|dk").all():
            raise ValueError(
                f"responses: column {column} holds answer codes for instrument {instrument.id} "
                f"at {describe_rows(values.index)}, but {instrument.id} has no question {column!r} "
                "(unknown question id; declare respondent attributes under the instrument's "
                "attributes or name them with --by)"
            )


def prepare(
    frame: pd.DataFrame,
    instrument: Instrument,
    *,
    margins: Mapping[str, Mapping[str, float]] | None = None,
    by: Sequence[str] = (),
    drop_incomplete: bool = False,
    names: Sequence[str] = (),
    trim: tuple[float, float] | None = None,
) -> Prepared:
    """Check and convert one instrument's rows (``frame`` holds only that instrument).

    Answers to text questions are redacted first (:func:`analysis.text.redact`, with the
    configured ``names``), so nothing downstream ever sees the original comment.

    Weights, per wave: the ``weight`` column (1 when absent), raked to ``margins`` fitted to
    the wave's respondents (:func:`analysis.margins.wave_margins`), then trimmed to
    ``trim = (LOWER, UPPER)`` times the wave's mean weight (:func:`analysis.weighting.trim_weights`).
    A wave that cannot be weighted is left out with a note in ``failed``; other waves go on."""
    text_ids = [q.id for q in instrument.questions if q.type == "text" and q.id in frame]
    if text_ids:
        frame = frame.assign(**{q: redact_series(frame[q], names) for q in text_ids})
    wrong = frame.index[frame["audience"] != instrument.audience]
    if len(wrong):
        raise ValueError(
            f"responses: column audience should be {instrument.audience!r} for instrument "
            f"{instrument.id} at {describe_rows(wrong)}"
        )
    scale_questions = instrument.scale_questions
    multi = multi_items(instrument)
    allowed = {q.id for q in instrument.answer_items} | {a.id for a in instrument.attributes}
    allowed |= set(multi)
    allowed |= {part for b in by for part in breakdown_parts(b)} | set(margins or {})
    _check_unknown_questions(frame, instrument, allowed)

    notes: list[Note] = []
    dropped = 0
    audience = instrument.audience
    unknown_rows: dict[str, str] = {}  # wave -> its rows with a category the margins lack
    if margins:
        missing = [v for v in margins if v not in frame.columns]
        if missing:
            raise ValueError(
                f"responses: raking variable(s) {', '.join(missing)} for audience "
                f"{instrument.audience} are not columns of the responses"
            )
        unknown = pd.Series(False, index=frame.index)
        blank = pd.Series(False, index=frame.index)
        for variable, categories in margins.items():
            unstated = not_stated(frame[variable])
            blank |= unstated
            unknown |= ~unstated & ~frame[variable].isin(list(categories))
        if not drop_incomplete:  # a wave with a category the margins lack cannot be raked
            unknown_rows = {
                str(w): describe_rows(rows)
                for w, rows in frame.index[unknown].groupby(frame.loc[unknown, "wave"]).items()
            }
        incomplete = unknown | blank if drop_incomplete else pd.Series(False, index=frame.index)
        if incomplete.any():
            dropped = int(incomplete.sum())
            notes.append(
                Note(
                    instrument.id,
                    audience,
                    None,
                    f"left out {dropped} respondents with incomplete raking variables",
                )
            )
            frame = frame.loc[~incomplete]

    weight = _start_weights(frame)
    notes += _absurd_weight_notes(frame, weight, instrument)
    weights = weigh_waves(
        frame,
        weight,
        instrument,
        margins=margins,
        trim=trim,
        unknown_rows=unknown_rows,
        sizes=_audience_sizes(frame),
    )
    notes += weights.notes
    if weights.failed:
        keep = ~frame["wave"].astype(str).isin(list(weights.failed)).to_numpy()
        frame, weight = frame.loc[keep], weights.weight[keep]
    else:
        weight = weights.weight

    positions = {
        q.id: _scale_positions(frame[q.id], instrument.scale_of(q).k, q.id)
        if q.id in frame
        else np.full(len(frame), np.nan)
        for q in scale_questions
    }
    positive = pd.DataFrame(
        {
            q.id: is_positive(
                positions[q.id],
                instrument.scale_of(q).positive,
                instrument.scale_of(q).k,
                q.reverse,
            )
            for q in scale_questions
        },
        index=frame.index,
    )
    score = pd.DataFrame(
        {
            q.id: item_score(positions[q.id], instrument.scale_of(q).k, q.reverse)
            for q in scale_questions
        },
        index=frame.index,
    )
    chosen = {
        column: _ticks(frame[column], column) if column in frame else np.full(len(frame), np.nan)
        for column in multi
    }
    if chosen:
        positive = pd.concat([positive, pd.DataFrame(chosen, index=frame.index)], axis=1)
        score = pd.concat([score, pd.DataFrame(chosen, index=frame.index) * 100.0], axis=1)
    asked = pd.DataFrame(
        {
            column: ~_not_asked(frame[column]) if column in frame else True
            for column in positive.columns
        },
        index=frame.index,
    )
    return Prepared(
        instrument,
        frame,
        weight,
        weights.weighted_waves,
        positive,
        score,
        dropped,
        notes,
        weights.designs,
        weights.failed,
        asked,
        _numbers(frame, instrument),
    )


def _numbers(frame: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Answers to number questions as floats (blank and ``na`` are NaN); anything else that
    is not a number is an error naming the rows."""
    columns = {}
    for question in instrument.questions:
        if question.type != "number":
            continue
        if question.id not in frame:
            columns[question.id] = np.full(len(frame), np.nan)
            continue
        values = frame[question.id]
        text = values.astype("string").str.strip()
        number = pd.to_numeric(text.where(~text.str.lower().eq(NOT_ASKED)), errors="coerce")
        bad = values.index[text.notna() & ~text.str.lower().eq(NOT_ASKED) & number.isna()]
        if len(bad):
            raise ValueError(
                f"responses: column {question.id} must be a number, {NOT_ASKED!r} or blank at "
                f"{describe_rows(bad)} (e.g. {values[bad[0]]!r})"
            )
        columns[question.id] = number.astype(float).to_numpy()
    return pd.DataFrame(columns, index=frame.index)


def multi_columns(values: pd.Series, question_id: str, choices: int) -> pd.DataFrame:
    """A multi question's stored answers (``"1,3"``) as one column per choice,
    ``<id>_<position>``: ``1``/``0`` when the question was shown and at least one choice
    ticked, blank when shown and none ticked (or not in the respondent's version), ``na``
    when not asked."""
    columns: dict[str, list[object]] = {f"{question_id}_{p}": [] for p in range(1, choices + 1)}
    for value in values:
        if not isinstance(value, str) or not value:
            ticked: set[int] | None = None
        elif value == NOT_ASKED:
            ticked = set()
        else:
            ticked = set(ticked_positions(value))
        for position in range(1, choices + 1):
            cell: object = (
                None
                if ticked is None
                else NOT_ASKED
                if value == NOT_ASKED
                else "1"
                if position in ticked
                else "0"
            )
            columns[f"{question_id}_{position}"].append(cell)
    return pd.DataFrame(columns, index=values.index, dtype=object)


def multi_items(instrument: Instrument) -> dict[str, tuple[str, int]]:
    """The export columns of multi questions, each an item ("% choosing X" among those who
    answered it): ``{"R01_2": ("R01", 2)}``."""
    return {
        f"{q.id}_{p}": (q.id, p)
        for q in instrument.questions
        if q.type == "multi"
        for p in range(1, len(q.choices or []) + 1)
    }


def _not_asked(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower().eq(NOT_ASKED).fillna(False).astype(bool)


def _ticks(values: pd.Series, column: str) -> np.ndarray:
    """A multi choice column: 1 ticked, 0 not ticked (of those who answered), NaN for blank
    (shown, nothing ticked) and ``na`` (not asked). Anything else is an error."""
    text = values.astype("string").str.strip().str.lower()
    ticked = text.map({"1": 1.0, "0": 0.0, NOT_ASKED: np.nan}, na_action="ignore")
    bad = values.index[text.notna() & ~text.isin(["1", "0", NOT_ASKED])]
    if len(bad):
        raise ValueError(
            f"responses: column {column} must be 1 (chosen), 0 (not chosen), {NOT_ASKED!r} or "
            f"blank at {describe_rows(bad)} (e.g. {values[bad[0]]!r})"
        )
    return ticked.astype(float).to_numpy()


def _start_weights(frame: pd.DataFrame) -> np.ndarray:
    """The ``weight`` column of one instrument's rows: every row has one, or none has."""
    if "weight" not in frame:
        return np.ones(len(frame))
    blank = frame["weight"].isna() | frame["weight"].astype(str).str.strip().eq("")
    if blank.any() and not blank.all():
        instrument = frame["instrument"].iloc[0]
        raise ValueError(
            f"responses: column weight is blank at {describe_rows(frame.index[blank])} "
            f"while other {instrument} rows have a weight (give every row a weight, or none)"
        )
    weight = pd.to_numeric(frame["weight"], errors="coerce")
    bad = frame.index[
        frame["weight"].notna() & (weight.isna() | ~np.isfinite(weight) | (weight <= 0))
    ]
    if len(bad):
        raise ValueError(
            f"responses: column weight must be a finite positive number at {describe_rows(bad)}"
        )
    return np.array(weight.fillna(1.0), dtype=float)  # a writable copy: raking fills it per wave


def _absurd_weight_notes(
    frame: pd.DataFrame, weight: np.ndarray, instrument: Instrument
) -> list[Note]:
    """A warning (not an error) for weights over ABSURD_WEIGHT_RATIO times the wave's median."""
    notes = []
    for wave, rows in frame.groupby("wave", sort=False).indices.items():
        median = float(np.median(weight[rows]))
        huge = rows[weight[rows] > ABSURD_WEIGHT_RATIO * median]
        if len(huge):
            notes.append(
                Note(
                    instrument.id,
                    instrument.audience,
                    str(wave),
                    f"weight over {ABSURD_WEIGHT_RATIO:,} times the median ({median:g}) at "
                    f"{describe_rows(frame.index[huge])}; see n_eff and deff for its cost",
                )
            )
    return notes


def _audience_sizes(frame: pd.DataFrame) -> dict[str, float | None]:
    """The ``audience_size`` of each wave (None when blank or absent): a positive whole
    number, the same on every row of a wave."""
    if "audience_size" not in frame:
        return {}
    raw = frame["audience_size"]
    size = pd.to_numeric(raw, errors="coerce")
    bad = frame.index[raw.notna() & (size.isna() | (size <= 0) | (size % 1 != 0))]
    if len(bad):
        raise ValueError(
            f"responses: column audience_size must be a positive whole number or blank at "
            f"{describe_rows(bad)}"
        )
    sizes: dict[str, float | None] = {}
    for wave, values in size.groupby(frame["wave"].astype(str), sort=False, dropna=False):
        distinct = values.unique()
        if len(distinct) > 1:
            raise ValueError(
                f"responses: column audience_size differs within wave {wave} at "
                f"{describe_rows(values.index)}"
            )
        sizes[str(wave)] = None if pd.isna(distinct[0]) else float(distinct[0])
    return sizes


def breakdown_parts(by: str) -> list[str]:
    """The attribute columns of a breakdown: ``"directorate*grade"`` crosses two."""
    return by.split(CROSS)


def breakdown_filled(frame: pd.DataFrame, by: str) -> bool:
    """Whether any respondent of ``frame`` stated each attribute of the breakdown (a
    breakdown an instrument never fills, another instrument's attribute, is skipped)."""
    return all(column in frame and frame[column].notna().any() for column in breakdown_parts(by))


def breakdown_labels(frame: pd.DataFrame, column: str) -> pd.Series:
    """Group labels for a breakdown; blanks form their own "(not stated)" group, and an
    attribute that was not asked (``na``) its own "(not asked)" group, so that they are
    suppressed like any other small group rather than left recoverable.

    A crossed breakdown ``"directorate*grade"`` labels each respondent with the crossed cell
    ``"Finance*Band 5"`` (either side may be "(not stated)" or "(not asked)")."""
    parts = breakdown_parts(column)
    for part in parts:
        if part not in frame:
            raise ValueError(f"responses: --by column {part} is not in the responses")
    labels = [
        frame[part]
        .astype(object)
        .where(frame[part].notna(), NOT_STATED)
        .where(~_not_asked(frame[part]), NOT_ASKED_GROUP)
        .astype(str)
        for part in parts
    ]
    crossed = labels[0]
    for more in labels[1:]:
        crossed = crossed + CROSS + more
    return crossed.rename("group")
