"""Population margins fitted to the respondents of one wave before raking.

A thin wave (a normal first morning: three residents have answered, none aged 16-34) cannot
be raked to margins it has no respondents for, and people may decline an "about you"
question. :func:`wave_margins` turns the population margins into ones this wave's
respondents can be raked to, and says what it changed:

* a category with a population total but no respondents is merged into the next category
  in the attribute's order of choices (the previous one if it is the last), repeatedly;
* a margin left with a single category carries no information and is dropped;
* respondents who left the variable blank or chose "Prefer not to say" keep their weighted
  share of that margin: they form a category of their own whose target is their share of
  the starting weights times the population total, and the stated categories' targets are
  scaled by the stated share (so every margin keeps the population's grand total).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PREFER_NOT_TO_SAY = "Prefer not to say"
NOT_STATED_CATEGORY = "(not stated)"


@dataclass
class FittedMargins:
    """Raking input for one wave: recoded raking columns, their margins, and what changed."""

    columns: pd.DataFrame
    margins: dict[Hashable, dict[str, float]]  # rake()'s margins
    notes: list[str] = field(default_factory=list)


def not_stated(values: pd.Series) -> pd.Series:
    """True where a raking attribute is blank, "Prefer not to say" or not asked (``na``: its
    ``show_if`` did not hold), which raking treats alike."""
    text = values.astype("string").str.strip()
    unstated = values.isna() | text.eq("") | text.eq(PREFER_NOT_TO_SAY) | text.eq("na")
    return unstated.fillna(True).astype(bool)


def _ordered(categories: Mapping[str, float], choices: Sequence[str]) -> list[str]:
    listed = [c for c in choices if c in categories]
    return listed + [c for c in categories if c not in listed]


def wave_margins(
    columns: pd.DataFrame,
    weights: np.ndarray,
    margins: Mapping[str, Mapping[str, float]],
    choices: Mapping[str, Sequence[str]] | None = None,
) -> FittedMargins:
    """Fit population margins to one wave's respondents (see the module docstring).

    Parameters
    ----------
    columns : DataFrame
        The wave's raking columns (one per margin variable); values are categories of the
        margin, blank or "Prefer not to say" (anything else must have been rejected before).
    weights : ndarray
        Starting weights of the wave's respondents, aligned with ``columns``.
    margins : mapping
        ``{variable: {category: population total}}``.
    choices : mapping, optional
        The attribute's order of choices per variable (default: the margin's own order).

    Returns
    -------
    FittedMargins
        Columns recoded to merged categories (``"16-34 + 35-54"``) and ``(not stated)``,
        the margins to rake them to (dropped variables left out), and one note per change.
    """
    choices = choices or {}
    fitted = pd.DataFrame(index=columns.index)
    result: dict[Hashable, dict[str, float]] = {}
    notes: list[str] = []
    total_weight = float(np.sum(weights))
    for variable, margin in margins.items():
        values = columns[variable].astype(object)
        missing = not_stated(values).to_numpy()
        order = _ordered(margin, choices.get(variable, ()))
        totals = {c: float(margin[c]) for c in order}
        labels = {c: c for c in order}  # original category -> merged label
        present = {c for c in values[~missing].unique()}
        empty = [c for c in order if totals[c] > 0 and c not in present]
        for category in empty:
            keys = list(totals)
            if len(keys) < 2:
                break
            position = keys.index(labels[category])
            neighbour = keys[position + 1] if position + 1 < len(keys) else keys[position - 1]
            merged = " + ".join(
                (labels[category], neighbour)
                if position + 1 < len(keys)
                else (neighbour, labels[category])
            )
            combined = {}
            for key in keys:
                if key in (labels[category], neighbour):
                    if merged not in combined:
                        combined[merged] = totals[labels[category]] + totals[neighbour]
                else:
                    combined[key] = totals[key]
            totals = combined
            for original, label in labels.items():
                if label in (labels[category], neighbour):
                    labels[original] = merged
            notes.append(
                f"{variable}: no respondents in {category!r}; merged into {neighbour!r} for this wave"
            )
        totals = {k: v for k, v in totals.items() if v > 0 or k in {labels[c] for c in present}}
        if missing.all():
            notes.append(f"{variable}: no respondent stated it; margin dropped for this wave")
            continue
        if len(totals) < 2:
            notes.append(
                f"{variable}: only one category left ({next(iter(totals))!r}); margin dropped for this wave"
            )
            continue
        recoded = values.map(labels).where(~missing, NOT_STATED_CATEGORY)
        share = float(np.sum(weights[missing])) / total_weight if total_weight > 0 else 0.0
        if share > 0:
            population = sum(totals.values())
            totals = {k: v * (1.0 - share) for k, v in totals.items()} | {
                NOT_STATED_CATEGORY: share * population
            }
            count = int(missing.sum())
            notes.append(
                f"{variable}: {count} respondent{'s' if count != 1 else ''} ({share:.1%} of the weight) left it "
                f"blank or preferred not to say; they keep that share and the stated categories' targets "
                f"are scaled by {1.0 - share:.3f}"
            )
        fitted[variable] = recoded
        result[variable] = totals
    return FittedMargins(fitted, result, notes)
