"""Heatmaps: each breakdown group against the rest of its audience.

For an instrument, audience and wave, every item, index and outcome x every group of a
breakdown (one attribute, or two crossed as ``directorate*grade``):

* ``estimate``: the group's estimate, exactly as in the indicators (% positive for an item,
  mean respondent score for an index or outcome), over the group's respondents with a valid
  value (the row's base);
* ``rest_estimate``: the same over every other respondent of the audience-wave in that base,
  "(not stated)" included;
* ``difference`` ``d = estimate - rest_estimate`` and ``se_difference``
  ``se_d = sqrt(se_group**2 + se_rest**2)``, the two being the domain SEs of R
  ``svyby(~y, ~side, design, svymean)`` on the audience-wave design of the row's base (weights
  and finite population correction included: :func:`analysis.estimators.grouped_means` and
  :func:`analysis.design.fpc_fraction`). The group and the rest are disjoint domains, whose
  linearisation variables are never both non-zero on one respondent, so their covariance is
  zero and ``se_d`` equals ``SE(svycontrast(by, c(1, -1)))`` (Lumley 2010, section 2.3);
* ``p_value`` ``p = 2 * Phi(-|d / se_d|)``; ``p_adj`` Benjamini-Hochberg over the unsuppressed
  cells of one (instrument, audience, wave, by); ``significant`` ``p_adj < 0.05``.

Suppression (:func:`analysis.suppression.suppress`): per cell below the minimum group size,
complementary within each row (an item or index across the groups), a cell whose rest is
below the minimum (the whole minus the group would give the rest away), and for two-way
breakdowns across both margins. A suppressed cell has every figure blank.

References
----------
Lumley, T. (2010). *Complex Surveys*, Wiley, sections 2.3 (domains) and 3.2 (contrasts).
Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57(1), 289-300.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .design import fpc_fraction
from .estimators import grouped_means
from .inference import benjamini_hochberg, weighted_change_z
from .responses import Prepared, breakdown_filled, breakdown_labels
from .suppression import min_n_for, suppress

HEATMAP_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "level",
    "id",
    "by",
    "group",
    "n",
    "estimate",
    "rest_estimate",
    "difference",
    "se_difference",
    "p_value",
    "p_adj",
    "significant",
    "suppressed",
]
FAMILY = ["instrument", "audience", "wave", "level", "id", "by"]
TEST_FAMILY = ["instrument", "audience", "wave", "by"]
BLANK = ["estimate", "rest_estimate", "difference", "se_difference", "p_value", "p_adj"]
_GROUP, _REST = "group", "rest"


def empty_heatmap() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in HEATMAP_COLUMNS})


def heatmap_rows(
    prepared: Prepared,
    by: Sequence[str],
    sizes: Mapping[str, float],
    respondent: pd.DataFrame,
) -> pd.DataFrame:
    """Unsuppressed heatmap cells of one instrument (with ``rest_n``, before the tests).

    Parameters
    ----------
    prepared : Prepared
        The instrument's respondents (``positive`` 0/1 per item, weights, waves).
    by : sequence of str
        Breakdowns: attribute columns, or two joined by ``*``.
    sizes : mapping
        Audience size of each wave that gets the finite population correction.
    respondent : DataFrame
        Respondent-level index and outcome scores, columns ``level:id``.
    """
    waves = prepared.waves.astype(str).rename("wave")
    parts = []
    for column in (c for c in by if breakdown_filled(prepared.frame, c)):
        labels = breakdown_labels(prepared.frame, column).to_numpy(dtype=object)
        for group in pd.unique(labels):
            side = pd.Series(np.where(labels == group, _GROUP, _REST), name="side")
            for values, level in ((prepared.positive, "item"), (respondent, None)):
                if values.empty:
                    continue
                stats = grouped_means(values, prepared.weight, design=waves, domain=side)
                parts.append(_cells(prepared, stats, level, column, str(group), sizes))
    if not parts:
        return pd.DataFrame(columns=[*HEATMAP_COLUMNS, "rest_n"])
    return pd.concat(parts, ignore_index=True)


def _cells(
    prepared: Prepared,
    stats: pd.DataFrame,
    level: str | None,
    by: str,
    group: str,
    sizes: Mapping[str, float],
) -> pd.DataFrame:
    """One group's cells from the domain estimates of its side (group or rest)."""
    _, keep = fpc_fraction(
        stats["design_n"].to_numpy(dtype=float),
        stats.index.get_level_values("wave").to_series(index=stats.index),
        sizes,
    )
    stats = stats.assign(se=stats["se"].to_numpy() * np.sqrt(keep))
    wide = stats[["n", "mean", "se"]].unstack("side")
    sides = wide.columns.get_level_values("side")
    for name in (_GROUP, _REST):
        if name not in sides:
            for value in ("n", "mean", "se"):
                wide[(value, name)] = 0.0 if value == "n" else np.nan
    keys = wide.index.to_frame(index=False)
    unit = keys.iloc[:, 0].astype(str)
    if level is None:
        levels, ids = unit.str.split(":", n=1).str[0], unit.str.split(":", n=1).str[1]
    else:
        levels, ids = pd.Series(level, index=keys.index), unit
    scale = np.where(levels.to_numpy() == "item", 100.0, 1.0)
    # Every estimate is a percentage or a 0-100 score (as in the indicators).
    estimate = np.clip(wide[("mean", _GROUP)].to_numpy(dtype=float) * scale, 0.0, 100.0)
    rest = np.clip(wide[("mean", _REST)].to_numpy(dtype=float) * scale, 0.0, 100.0)
    se_group = wide[("se", _GROUP)].to_numpy(dtype=float) * scale
    se_rest = wide[("se", _REST)].to_numpy(dtype=float) * scale
    with np.errstate(invalid="ignore"):
        test = weighted_change_z(rest, se_rest, estimate, se_group)
    return pd.DataFrame(
        {
            "instrument": prepared.instrument.id,
            "audience": prepared.audience,
            "wave": keys["wave"].to_numpy(),
            "level": levels.to_numpy(),
            "id": ids.to_numpy(),
            "by": by,
            "group": group,
            "n": wide[("n", _GROUP)].fillna(0).to_numpy(dtype=float),
            "estimate": estimate,
            "rest_estimate": rest,
            "difference": estimate - rest,
            "se_difference": np.sqrt(se_group**2 + se_rest**2),
            "p_value": np.asarray(test.p_value, dtype=float),
            "p_adj": np.nan,
            "significant": None,
            "suppressed": False,
            "rest_n": wide[("n", _REST)].fillna(0).to_numpy(dtype=float),
        }
    )


def heatmap_table(
    parts: Sequence[pd.DataFrame],
    thresholds: int | Mapping[str, int],
) -> pd.DataFrame:
    """Suppress and adjust the cells of every instrument.

    Parameters
    ----------
    parts : sequence of DataFrame
        :func:`heatmap_rows` of each instrument.
    thresholds : int or mapping
        Minimum group size, one or ``{audience: n, "default": n}``.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_heatmap()
    table = pd.concat(parts, ignore_index=True)
    # A group with no row base at all (no valid answer) is not a cell.
    table = table[table["n"].to_numpy(float) > 0].reset_index(drop=True)
    table = suppress(
        table,
        thresholds,
        family=FAMILY,
        group_column="group",
        crossed_by="by",
        also_hide=table["rest_n"].to_numpy(float) < min_n_for(table["audience"], thresholds),
        blank=BLANK,
    )
    keys = [table[c].astype(str) for c in TEST_FAMILY]
    table["p_adj"] = table.groupby(keys, sort=False)["p_value"].transform(
        lambda p: pd.Series(benjamini_hochberg(p.to_numpy(float)), index=p.index)
    )
    table["significant"] = (table["p_adj"] < 0.05).where(table["p_adj"].notna()).astype(object)
    return table[HEATMAP_COLUMNS]
