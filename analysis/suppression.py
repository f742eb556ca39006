"""Small-group suppression: the one implementation every table, chart, export and report uses.

A row whose group has fewer than ``min_n`` respondents has its count and every estimate
blanked and ``suppressed`` set (primary suppression). Within a breakdown (a family of groups
whose counts add up to a total that is shown), subtracting the visible groups from the total
gives the sum of the hidden ones; so whenever a family has a hidden group and either

* exactly one group is hidden (the subtraction gives it exactly), or
* the hidden groups together have fewer than ``min_n`` (their sum is itself a small group),

the family's next-smallest visible group is hidden too (complementary suppression), and
again until no family is exposed (hiding one group can leave a hidden sum still below
the threshold). After that every family with a hidden group has at least two hidden groups whose counts add up to
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

from instruments.schema import CROSS  # joins a two-way breakdown's attributes and its groups


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
    crossed_by: str | None = None,
    also_hide: Sequence[bool] | np.ndarray | None = None,
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
        suppression applies within each family whose ``group_column`` is not blank,
        repeated until every family with a hidden group is protected.
    group_column : str, optional
        The breakdown group column; rows where it is blank are whole-audience rows,
        which never take part in complementary suppression.
    blank : sequence of str
        Columns blanked (set to NaN) on suppressed rows, besides ``n_column``.
    crossed_by : str, optional
        The column naming the breakdown. Rows whose breakdown crosses two attributes
        (``"directorate*grade"``, groups ``"Finance*Band 5"``) are protected on both
        margins: a cell is hidden when its one-way group (``"Finance"`` or ``"Band 5"``) is
        hidden in the one-way table (suppressed here by the same rule), and the cells sharing
        a one-way group form a family whose total is that group's published figure, as the
        cells of the whole table form one whose total is the audience's.
    also_hide : sequence of bool, optional
        Rows to hide besides the small ones (e.g. a group whose complement is small), whose
        counts then count towards the protected sums like any other hidden group.

    Returns
    -------
    DataFrame
        The same rows and index, with ``suppressed`` (bool) and blanked values.
    """
    out = table.copy()
    n = pd.to_numeric(out[n_column], errors="coerce").to_numpy(dtype=float)
    audiences = out[audience_column] if audience_column in out else pd.Series("", index=out.index)
    threshold = min_n_for(audiences, min_n)
    hidden = np.isnan(n) | (n < threshold)
    if also_hide is not None:
        hidden |= np.asarray(also_hide, dtype=bool)
    if family and group_column is not None and len(out):
        groups = out[group_column]
        in_breakdown = (groups.notna() & (groups.astype(str) != "")).to_numpy()
        rows = np.flatnonzero(in_breakdown)
        keys = out.iloc[rows][list(family)].astype(str)
        base = _join(keys)
        families = [base]
        if crossed_by is not None:
            crossed = out.iloc[rows][crossed_by].astype(str).str.contains(CROSS, regex=False)
            cells = groups.iloc[rows].astype(str).str.split(CROSS, n=1, expand=True)
            if crossed.any() and cells.shape[1] == 2:
                for side, label in ((0, "row"), (1, "column")):
                    margin = base + f"|{label}|" + cells[side].fillna("")
                    families.append(margin.where(crossed.to_numpy(), None))
                    margin_hidden = _hidden_margins(
                        margin[crossed.to_numpy()],
                        n[rows][crossed.to_numpy()],
                        threshold[rows][crossed.to_numpy()],
                        base[crossed.to_numpy()],
                    )
                    sub = hidden[rows]
                    sub[np.flatnonzero(crossed.to_numpy())] |= margin_hidden
                    hidden[rows] = sub
        labels = groups.iloc[rows].astype(str).to_numpy()
        sub = _protect(families, np.nan_to_num(n[rows]), hidden[rows], threshold[rows], labels)
        hidden[rows] = sub
    out["suppressed"] = pd.Series(hidden, index=out.index).astype(bool)
    for column in (n_column, *blank):
        if column in out:
            out[column] = out[column].astype(float).where(~out["suppressed"])
    return out


def _join(keys: pd.DataFrame) -> pd.Series:
    joined = keys.iloc[:, 0]
    for column in keys.columns[1:]:
        joined = joined + "|" + keys[column]
    return joined


def _hidden_margins(
    margin: pd.Series, n: np.ndarray, threshold: np.ndarray, base: pd.Series
) -> np.ndarray:
    """Whether each crossed cell's one-way group is hidden in the one-way table: the
    groups' counts are the sums of their cells (every respondent of the row base has a
    label on both sides, "(not stated)" included), suppressed by the same rule."""
    frame = pd.DataFrame(
        {"margin": margin.to_numpy(), "base": base.to_numpy(), "n": n, "t": threshold}
    )
    totals = frame.groupby("margin", sort=False).agg(
        n=("n", "sum"), t=("t", "max"), base=("base", "first")
    )
    sums = totals["n"].to_numpy()
    hidden = _protect(
        [totals["base"]],
        sums,
        sums < totals["t"].to_numpy(),
        totals["t"].to_numpy(),
        totals.index.to_numpy(dtype=str),
    )
    return pd.Series(hidden, index=totals.index).reindex(frame["margin"]).to_numpy(dtype=bool)


def _protect(
    families: list[pd.Series],
    n: np.ndarray,
    hidden: np.ndarray,
    threshold: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """Complementary suppression to a fixed point: while a family (rows sharing a key of
    one of ``families``; None = in no such family) has a hidden group and either exactly
    one hidden group or hidden groups adding up to less than its largest threshold, hide
    its smallest visible group. Ties go to the first group label, so that every table of
    the same groups (indicators, heatmap, in any row order) hides the same ones: two
    tables hiding different groups of equal size would give both away."""
    hidden = hidden.copy()
    codes = [pd.factorize(f.to_numpy(dtype=object), use_na_sentinel=True)[0] for f in families]
    changed = True
    while changed:
        changed = False
        for code in codes:
            member = code >= 0
            if not member.any():
                continue
            size = code.max() + 1
            c = code[member]
            h = hidden[member]
            hidden_count = np.bincount(c, weights=h, minlength=size)
            count = np.bincount(c, minlength=size)
            hidden_sum = np.bincount(c, weights=n[member] * h, minlength=size)
            largest = np.full(size, -np.inf)
            np.maximum.at(largest, c, threshold[member])
            exposed = (
                (hidden_count > 0)
                & (count > hidden_count)
                & ((hidden_count == 1) | (hidden_sum < largest))
            )
            if not exposed.any():
                continue
            positions = np.flatnonzero(member)
            candidates = positions[exposed[c] & ~h]
            # the smallest visible group of each exposed family (first one on ties)
            order = candidates[np.lexsort((labels[candidates], n[candidates], code[candidates]))]
            first = np.unique(code[order], return_index=True)[1]
            hidden[order[first]] = True
            changed = True
    return hidden
