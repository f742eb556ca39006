"""Figures by wave in long form: one row per indicator (an outcome score, index, question or
breakdown group) and wave, with the stored change into that wave and its test.

The scorecard's measures (:func:`survey_app.dashboard.scorecard.measure_waves`) and every
dashboard download read their changes through here, so an estimate is matched with its change
in one place: the ``changes`` table's row for the same instrument, audience, level, id,
breakdown and group whose ``wave_to`` is the estimate's wave (analysis.pipeline computes it:
the pooled two-proportion z-test or Welch t-test, or z on the standard errors when weighted,
Benjamini-Hochberg adjusted per audience, group and pair of waves, with the minimum detectable
change; DESIGN.md section 5). Suppressed figures are blank in the stored results; a suppressed
row's count is blanked here too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analysis.rag import SignificanceTag, significance

#: what identifies a series of estimates (an indicator) across waves
SERIES_KEYS = ("instrument", "audience", "level", "id", "by", "group")

#: the figures of one indicator in one wave, in download order
FIGURE_COLUMNS = [
    "wave",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "suppressed",
    "change",
    "p_value",
    "p_adj",
    "mdc",
    "significance",
]


def value(x: Any) -> float | None:
    """A stored figure as a float, or None for a blank (pandas keeps a blank as NaN)."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _part(x: Any) -> str:
    """A key part: a whole-audience row's blank ``by`` and ``group`` (None or NaN) as ""."""
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def series_key(record: Mapping[str, Any], wave_column: str = "wave") -> tuple[str, ...]:
    """The series a stored row belongs to and its wave (an indicator's ``wave``, a change's
    ``wave_to``)."""
    return (*(_part(record[c]) for c in SERIES_KEYS), str(record[wave_column]))


def changes_into(changes: pd.DataFrame) -> dict[tuple[str, ...], dict[str, Any]]:
    """Each stored change keyed by :func:`series_key` of the wave it compares to."""
    if changes.empty:
        return {}
    wanted = [*SERIES_KEYS, "wave_to", "change", "p_value", "p_adj", "mdc", "significant"]
    wanted += [c for c in ("comparable", "note") if c in changes.columns]
    return {
        series_key(row, "wave_to"): row
        for row in changes[[c for c in wanted if c in changes.columns]].to_dict("records")
    }


def significance_tag(change_row: Mapping[str, Any] | None, direction: str) -> SignificanceTag:
    """The significance tag of one row of the changes table (None: no earlier wave): not
    compared across a breaking difference (with its note) or when either side is blank."""
    if change_row is None:
        return significance(None, None, not_compared="no earlier wave")
    if "comparable" in change_row and not bool(change_row["comparable"]):
        return significance(None, None, not_compared=str(change_row["note"]))
    change = value(change_row["change"])
    if change is None:
        return significance(None, None, not_compared="too few responses in one of the waves")
    significant = change_row["significant"]
    if significant is None or (isinstance(significant, float) and math.isnan(significant)):
        return significance(None, None, not_compared="no test for this change")
    return significance(change, bool(significant), direction=direction)


def wave_figures(
    row: Mapping[str, Any], change_row: Mapping[str, Any] | None, direction: str = "higher"
) -> dict[str, Any]:
    """One indicator row's figures with its change into that wave: the :data:`FIGURE_COLUMNS`
    (less ``wave``) and ``tag``, the :class:`~analysis.rag.SignificanceTag` that
    ``significance`` names. Everything but the suppressed flag is blank for a suppressed row."""
    suppressed = bool(row["suppressed"])
    tag = significance_tag(change_row, direction)

    def shown(source: Mapping[str, Any] | None, column: str) -> float | None:
        return None if suppressed or source is None else value(source.get(column))

    return {
        "n": shown(row, "n"),
        "estimate": shown(row, "estimate"),
        "ci_low": shown(row, "ci_low"),
        "ci_high": shown(row, "ci_high"),
        "suppressed": suppressed,
        "change": shown(change_row, "change"),
        "p_value": shown(change_row, "p_value"),
        "p_adj": shown(change_row, "p_adj"),
        "mdc": shown(change_row, "mdc"),
        "significance": tag.label,
        "tag": tag,
    }


def in_wave_order(rows: pd.DataFrame, order: list[str], first: Iterable[str] = ()) -> pd.DataFrame:
    """``rows`` sorted by the columns ``first`` (stable, as they come) and then by wave, in
    the results' wave order."""
    rank = {w: i for i, w in enumerate(order)}
    keys = [*first, "wave"]
    return rows.sort_values(
        keys, key=lambda c: c.map(rank) if c.name == "wave" else c, kind="stable"
    )


def figures_by_wave(
    rows: pd.DataFrame,
    changes: pd.DataFrame,
    keep: Iterable[str] = (),
    direction: str = "higher",
) -> pd.DataFrame:
    """Indicator rows in long form: for each row (in the order given), the columns in ``keep``
    then :data:`FIGURE_COLUMNS`, the change into its wave read from ``changes``.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of the stored ``indicators`` table.
    changes : pandas.DataFrame
        The stored ``changes`` table (or any part of it holding these rows' changes).
    keep : iterable of str
        Columns of ``rows`` to carry in front of the figures (e.g. ``id``, ``group``).
    direction : {"higher", "lower"}
        Which way is better, for the significance tag's "improved" or "fell".

    Returns
    -------
    pandas.DataFrame
        One row per indicator row: ``keep``, ``wave``, ``n``, ``estimate``, ``ci_low``,
        ``ci_high``, ``suppressed``, ``change`` (estimate minus the previous wave's, in
        points), ``p_value``, ``p_adj`` (Benjamini-Hochberg), ``mdc`` (the minimum detectable
        change, (1.959964 + 0.841621) x sqrt(se1² + se2²)) and ``significance`` (the tag in
        words, e.g. "not compared: ..." across a reworded question, with the p-values blank).
    """
    keep = list(keep)
    lookup = changes_into(changes)
    out = []
    for record in rows.to_dict("records"):
        figures = wave_figures(record, lookup.get(series_key(record)), direction)
        del figures["tag"]
        out.append({**{c: record[c] for c in keep}, "wave": record["wave"], **figures})
    return pd.DataFrame(out, columns=[*keep, *FIGURE_COLUMNS])
