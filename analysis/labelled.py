"""Labelled exports for statistics packages: SPSS ``.sav`` and Stata ``.dta`` (pyreadstat).

The export frame (:func:`survey_app.export.responses_frame`, or a CSV read with
:func:`analysis.read_responses`) is coded with its instruments' definitions:

- every question, statement, multi choice and attribute column gets its text as the variable
  label (a multi choice: ``"<question text>: <choice>"``);
- scale answers are their position (1..k) with the scale labels as value labels; choices and
  attributes are coded 1..k in their order, labelled with their text; multi choices are 1
  (chosen) / 0 (not chosen); numbers stay numbers; free text stays text;
- don't know (``dk``) and not asked (``na``) are *user-missing*: in SPSS the codes
  :data:`SPSS_DONT_KNOW` (-1) and :data:`SPSS_NOT_ASKED` (-2) declared missing (a number
  question whose range reaches below zero uses -99999991 and -99999992 instead), ``na``
  declared missing in text columns; in Stata the extended missing values ``.a`` (don't know)
  and ``.b`` (not asked). Both are labelled. Blank stays system-missing.

A column whose id two instruments use differently is labelled from the first instrument (in
the order given) that defines it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from instruments import Instrument

from .responses import DONT_KNOW, NOT_ASKED

SPSS_DONT_KNOW, SPSS_NOT_ASKED = -1, -2
SPSS_WIDE_DONT_KNOW, SPSS_WIDE_NOT_ASKED = -99999991, -99999992
STATA_DONT_KNOW, STATA_NOT_ASKED = "a", "b"
DONT_KNOW_LABEL, NOT_ASKED_LABEL = "Don't know", "Not asked"
FORMATS = ("sav", "dta")
Format = Literal["sav", "dta"]


@dataclass
class Labelled:
    """The coded frame and its labels, ready for one writer."""

    frame: pd.DataFrame
    column_labels: dict[str, str | None] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    missing: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Column:
    label: str
    kind: Literal["coded", "number", "text"]
    codes: dict[str, int] = field(default_factory=dict)  # stored value -> code
    labels: dict[int, str] = field(default_factory=dict)  # code -> label
    wide: bool = False  # a number that may be negative: the far-away missing codes


def _columns(instruments: Sequence[Instrument]) -> dict[str, _Column]:
    found: dict[str, _Column] = {}

    def add(column: str, spec: _Column) -> None:
        found.setdefault(column, spec)

    for instrument in instruments:
        for question in instrument.answer_items:
            grid = instrument.grid_of(question.id)
            label = f"{grid.text} {question.text}" if grid else question.text
            if question.type == "scale":
                scale = instrument.scale_of(question)
                labels = {p + 1: text for p, text in enumerate(scale.labels)}
                add(
                    question.id,
                    _Column(label, "coded", {str(p): p for p in labels}, labels),
                )
            elif question.type == "choice":
                choices = question.choices or []
                add(
                    question.id,
                    _Column(
                        label,
                        "coded",
                        {c: i + 1 for i, c in enumerate(choices)},
                        {i + 1: c for i, c in enumerate(choices)},
                    ),
                )
            elif question.type == "multi":
                for position, choice in enumerate(question.choices or [], start=1):
                    add(
                        f"{question.id}_{position}",
                        _Column(
                            f"{label}: {choice}",
                            "coded",
                            {"0": 0, "1": 1},
                            {0: "Not chosen", 1: "Chosen"},
                        ),
                    )
            elif question.type == "number":
                wide = question.min is None or question.min < 0
                add(question.id, _Column(label, "number", wide=wide))
            else:
                add(question.id, _Column(label, "text"))
        for attribute in instrument.attributes:
            add(
                attribute.id,
                _Column(
                    attribute.text,
                    "coded",
                    {c: i + 1 for i, c in enumerate(attribute.choices)},
                    {i + 1: c for i, c in enumerate(attribute.choices)},
                ),
            )
    return found


# The longest variable label each format holds (Stata 80 characters; SPSS 256 bytes).
LABEL_LIMIT = {"sav": 250, "dta": 80}


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (and bytes, for UTF-8 formats) at a word."""
    if len(text) <= limit and len(text.encode("utf-8")) <= limit:
        return text
    cut = text[: limit - 1]
    while len((cut + "…").encode("utf-8")) > limit:
        cut = cut[:-1]
    return cut.rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _numeric(values: pd.Series, column: str, what: str) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce")
    bad = values.index[values.notna() & number.isna()]
    if len(bad):
        raise ValueError(
            f"responses: column {column} has {what} at rows "
            f"{', '.join(str(b) for b in bad[:8])} (e.g. {values[bad[0]]!r})"
        )
    return number


def label(frame: pd.DataFrame, instruments: Sequence[Instrument], fmt: Format) -> Labelled:
    """Code the export frame for ``fmt`` (``"sav"`` or ``"dta"``); raises ``ValueError`` for a
    value its question cannot take (naming the column and rows) or an unknown format."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    specs = _columns(instruments)
    out = pd.DataFrame(index=frame.index)
    result = Labelled(out)
    for column in frame.columns:
        values = frame[column]
        spec = specs.get(column)
        if column == "weight" or column == "audience_size":
            out[column] = pd.to_numeric(values, errors="coerce").astype(float)
            continue
        if spec is None or spec.kind == "text":
            text = values.astype(object).where(values.notna(), "")
            out[column] = text.astype(str)
            if spec is not None:
                result.column_labels[column] = spec.label
                if fmt == "sav" and (text == NOT_ASKED).any():
                    result.missing[column] = [NOT_ASKED]
            continue
        result.column_labels[column] = spec.label
        text = values.astype("string").str.strip()
        is_dk, is_na = text.eq(DONT_KNOW).fillna(False), text.eq(NOT_ASKED).fillna(False)
        rest = values.where(~(is_dk | is_na))
        if spec.kind == "coded":
            codes = rest.map(
                lambda v, c=spec.codes: c.get(str(v), np.nan) if pd.notna(v) else np.nan
            )
            bad = rest.index[rest.notna() & codes.isna()]
            if len(bad):
                raise ValueError(
                    f"responses: column {column} has a value its question cannot take at rows "
                    f"{', '.join(str(b) for b in bad[:8])} (e.g. {rest[bad[0]]!r})"
                )
            number = codes.astype(float)
            labels: dict[Any, str] = dict(spec.labels)
        else:
            number = _numeric(rest, column, "values that are not numbers").astype(float)
            labels = {}
        if fmt == "sav":
            dk_code, na_code = (
                (SPSS_WIDE_DONT_KNOW, SPSS_WIDE_NOT_ASKED)
                if spec.wide
                else (SPSS_DONT_KNOW, SPSS_NOT_ASKED)
            )
            number = number.where(~is_dk.to_numpy(), dk_code).where(~is_na.to_numpy(), na_code)
            out[column] = number.astype(float)
            labels.update({dk_code: DONT_KNOW_LABEL, na_code: NOT_ASKED_LABEL})
            result.missing[column] = [dk_code, na_code]
            result.value_labels[column] = {float(k): v for k, v in labels.items()}
        else:
            cells = number.astype(object).where(number.notna(), np.nan)
            cells = cells.where(~is_dk.to_numpy(), STATA_DONT_KNOW).where(
                ~is_na.to_numpy(), STATA_NOT_ASKED
            )
            if (is_dk | is_na).any():
                out[column] = cells
                result.missing[column] = [STATA_DONT_KNOW, STATA_NOT_ASKED]
                labels.update({STATA_DONT_KNOW: DONT_KNOW_LABEL, STATA_NOT_ASKED: NOT_ASKED_LABEL})
            else:
                out[column] = number.astype(float)
            if labels:
                result.value_labels[column] = labels
    return result


def write_labelled(
    frame: pd.DataFrame,
    instruments: Sequence[Instrument] | Mapping[str, Instrument],
    path: str | Path,
    fmt: Format,
) -> None:
    """Write the export frame as a labelled SPSS or Stata file (see the module docstring)."""
    import pyreadstat  # an optional heavy import: only the labelled exports need it

    if isinstance(instruments, Mapping):
        instruments = list(instruments.values())
    coded = label(frame, instruments, fmt)
    limit = LABEL_LIMIT[fmt]
    coded.column_labels = {k: _short(v, limit) if v else v for k, v in coded.column_labels.items()}
    if fmt == "sav":
        pyreadstat.write_sav(
            coded.frame,
            str(path),
            file_label="Improvement Pulse responses",
            column_labels=coded.column_labels,
            variable_value_labels=coded.value_labels,
            missing_ranges=coded.missing,
        )
    else:
        pyreadstat.write_dta(
            coded.frame,
            str(path),
            file_label="Improvement Pulse responses",
            column_labels=coded.column_labels,
            variable_value_labels=coded.value_labels,
            missing_user_values=coded.missing,
        )
