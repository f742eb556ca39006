"""Small-group suppression: the one implementation every table, chart, export and report uses.

A row whose group has fewer than ``min_n`` respondents has its count and every estimate
blanked and ``suppressed`` set (primary suppression). Within a breakdown (a family of groups
whose counts add up to a total that is shown), subtracting the visible groups from the total
gives the sum of the hidden ones; so whenever a family has a hidden group and either

* exactly one group is hidden (the subtraction gives it exactly), or
* the hidden groups together have fewer than ``min_n`` (their sum is itself a small group),

the family's next-smallest visible group is hidden too (complementary suppression). After
that every family with a hidden group has at least two hidden groups whose counts add up to
at least ``min_n``, so, counts being non-negative, each hidden count could be anything from 0
to that sum: none is recovered, and no small sum is disclosed. This is the standard "at least
two cells, and a protected sum at least the threshold" rule of statistical disclosure control
(Hundepool et al., *Statistical Disclosure Control*, Wiley 2012, section 5.3); the
subtraction tests in ``tests/survey_app/test_monitor_suppression.py`` check it on the
response monitor's tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def min_n_for(audiences: pd.Series, min_n: int | Mapping[str, int]) -> np.ndarray:
    """The threshold for each row: one number, or per audience with a ``"default"``."""
    if isinstance(min_n, Mapping):
        default = min_n.get("default", 10)
        return audiences.map(lambda a: min_n.get(a, default)).to_numpy(dtype=float)
    return np.full(len(audiences), float(min_n))


def suppress(
    table: pd.DataFrame,
    min_n: int | Mapping[str, int],
    *,
    family: Sequence[str] = (),
    group_column: str | None = None,
    n_column: str = "n",
    blank: Sequence[str] = (),
    audience_column: str = "audience",
) -> pd.DataFrame:
    """Return a copy of ``table`` with small groups suppressed.

    Parameters
    ----------
    table : DataFrame
        One row per estimate, with a count column ``n_column``.
    min_n : int or mapping
        Minimum group size, or ``{audience: size, "default": size}``.
    family : sequence of str
        Columns that identify one breakdown (rows sharing them are the groups of one
        breakdown, e.g. instrument, audience, wave, level, id, by). Complementary
        suppression applies within each family whose ``group_column`` is not blank.
    group_column : str, optional
        The breakdown group column; rows where it is blank are whole-audience rows,
        which never take part in complementary suppression.
    blank : sequence of str
        Columns blanked (set to NaN) on suppressed rows, besides ``n_column``.

    Returns
    -------
    DataFrame
        The same rows and index, with ``suppressed`` (bool) and blanked values.
    """
    out = table.copy()
    n = pd.to_numeric(out[n_column], errors="coerce").to_numpy(dtype=float)
    audiences = out[audience_column] if audience_column in out else pd.Series("", index=out.index)
    threshold = min_n_for(audiences, min_n)
    small = np.isnan(n) | (n < threshold)
    suppressed = pd.Series(small, index=out.index)
    if family and group_column is not None and len(out):
        in_breakdown = out[group_column].notna() & (out[group_column].astype(str) != "")
        candidates = out.loc[in_breakdown, list(family)].copy()
        candidates["_n"] = n[in_breakdown.to_numpy()]
        candidates["_small"] = small[in_breakdown.to_numpy()]
        candidates["_min_n"] = threshold[in_breakdown.to_numpy()]
        keys = [candidates[c].astype(str).fillna("") for c in family]
        for _, members in candidates.groupby(keys, sort=False, dropna=False):
            hidden = members[members["_small"]]
            visible = members[~members["_small"]]
            if hidden.empty or visible.empty:
                continue
            # the hidden groups must add up to the family's (largest) threshold
            if len(hidden) == 1 or hidden["_n"].fillna(0).sum() < members["_min_n"].max():
                suppressed.loc[visible["_n"].idxmin()] = True
    out["suppressed"] = suppressed.astype(bool)
    for column in (n_column, *blank):
        if column in out:
            out[column] = out[column].astype(float).where(~out["suppressed"])
    return out
