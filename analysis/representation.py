"""Who responded: response rates and representativeness of a wave's respondents against the
audience's known group sizes (an establishment list, or raking margins for residents).

For one attribute (say ``directorate``) with population sizes :math:`N_g` and respondent
counts :math:`n_g`:

* response rate :math:`r_g = 100\\,n_g / N_g`;
* respondent share :math:`s_g = 100\\,n_g / n_{stated}`, where :math:`n_{stated}` counts the
  respondents who stated a value of the attribute (any value), so that respondents who left
  it blank do not dilute the shares;
* population share :math:`p_g = 100\\,N_g / \\sum_h N_h`;
* representation ratio :math:`s_g / p_g`: 1 when the group's share among respondents equals
  its share of the population, above 1 when it is over-represented. This is the
  "representativeness ratio" (sometimes "representation index") of survey methodology, see
  e.g. Groves et al., *Survey Methodology*, 2nd ed., Wiley 2009, section 6.6.

Counts are unweighted (this is about who answered, not about estimates). Every row of an
attribute, "(not stated)" and values missing from the sizes included, is one family of
:func:`analysis.suppression.suppress` (the wave's total is shown elsewhere), so no group
below the minimum size, and none recoverable by subtraction, is shown: its count, rate,
share and ratio are blanked; the population figures, which are not about respondents, stay.
While "(not stated)" is hidden no share or ratio of that attribute is shown either: a visible
group's count over its share is the number who stated it, which with the wave's total gives
the hidden "(not stated)" count.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .suppression import min_n_for, suppress

NOT_STATED = "(not stated)"

#: The figures of a group (the rest of :data:`COLUMNS` says which group, and whether hidden).
FIGURE_COLUMNS = [
    "population",
    "respondents",
    "response_rate",
    "respondent_share",
    "population_share",
    "representation",
]
COLUMNS = ["attribute", "value", *FIGURE_COLUMNS, "suppressed"]
WAVE_KEYS = ["instrument", "audience", "wave"]


def _blank(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return values.isna() | text.isna() | (text == "")


def who_responded(
    respondents: pd.DataFrame, sizes: pd.DataFrame, min_n: int | Mapping[str, int]
) -> pd.DataFrame:
    """Response rate and representation ratio per group of every attribute with sizes.

    Parameters
    ----------
    respondents : DataFrame
        One row per respondent of the wave, one column per attribute (blank or missing when
        not stated). An attribute with sizes but no column counts everyone as not stated.
    sizes : DataFrame
        Columns ``attribute``, ``value``, ``size`` (the population of that group, > 0).
    min_n : int or mapping
        The minimum group size, as for :func:`analysis.suppression.suppress`.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, one row per size given (in their order), then one per value
        stated but missing from the sizes, then "(not stated)" when anyone left it blank.
        Percentages are on 0-100; the representation ratio is a plain ratio.

    Raises
    ------
    ValueError
        When ``sizes`` lacks a column, repeats a group, or has a size that is not a positive
        number.
    """
    missing = {"attribute", "value", "size"} - set(sizes.columns)
    if missing:
        raise ValueError(f"sizes needs the columns {', '.join(sorted(missing))}")
    size = pd.to_numeric(sizes["size"], errors="coerce")
    if size.isna().any() or (size <= 0).any():
        bad = sizes.loc[size.isna() | (size <= 0)].iloc[0]
        raise ValueError(
            f"the size of {bad['attribute']} = {bad['value']} must be a positive number, "
            f"not {bad['size']!r}"
        )
    duplicated = sizes.duplicated(["attribute", "value"])
    if duplicated.any():
        bad = sizes.loc[duplicated].iloc[0]
        raise ValueError(f"{bad['attribute']} = {bad['value']} has more than one size")

    rows: list[dict[str, object]] = []
    for attribute, given in sizes.assign(size=size).groupby("attribute", sort=False):
        answers = (
            respondents[attribute]
            if attribute in respondents
            else pd.Series(np.nan, index=respondents.index)
        )
        blank = _blank(answers)
        stated = answers[~blank].astype(str).str.strip()
        counts = stated.value_counts()
        total_population = float(given["size"].sum())
        n_stated = len(stated)
        known = [str(v) for v in given["value"]]
        groups = [
            (v, float(p), int(counts.get(v, 0))) for v, p in zip(known, given["size"], strict=True)
        ]
        groups += [(v, np.nan, int(counts[v])) for v in sorted(set(counts.index) - set(known))]
        if blank.any():
            groups.append((NOT_STATED, np.nan, int(blank.sum())))
        for value, population, n in groups:
            share = 100 * n / n_stated if value != NOT_STATED and n_stated else np.nan
            population_share = 100 * population / total_population
            rows.append(
                {
                    "attribute": attribute,
                    "value": value,
                    "population": population,
                    "respondents": n,
                    "response_rate": 100 * n / population,
                    "respondent_share": share,
                    "population_share": population_share,
                    "representation": share / population_share,
                }
            )

    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    table = suppress(
        table,
        min_n,
        family=["attribute"],
        group_column="value",
        n_column="respondents",
        blank=["response_rate", "respondent_share", "representation"],
    )
    # A visible group's count divided by its share gives the number who stated the
    # attribute, and the wave's total minus that gives "(not stated)": while that row is
    # hidden, no share or ratio of its attribute is shown.
    hidden_blank = table.loc[table["suppressed"] & (table["value"] == NOT_STATED), "attribute"]
    shares_hidden = table["attribute"].isin(hidden_blank)
    table.loc[shares_hidden, ["respondent_share", "representation"]] = np.nan
    return table[COLUMNS]


def who_responded_by_wave(
    responses: pd.DataFrame, sizes: pd.DataFrame, min_n: int | Mapping[str, int]
) -> pd.DataFrame:
    """:func:`who_responded` for every wave of every instrument whose audience has sizes.

    Parameters
    ----------
    responses : DataFrame
        One row per response in the export schema: ``instrument``, ``audience``, ``wave`` and
        the attribute columns (as the app's export and ``analysis.read_responses`` give them).
    sizes : DataFrame
        Columns ``audience``, ``attribute``, ``value``, ``size``: each audience's group sizes.
    min_n : int or mapping
        The minimum group size, one or ``{audience: n, "default": n}``, as for
        :func:`analysis.suppression.suppress`.

    Returns
    -------
    DataFrame
        Columns ``instrument, audience, wave`` then :data:`COLUMNS`, the waves in the order of
        ``responses``; no rows for an audience without sizes.

    Raises
    ------
    ValueError
        When ``sizes`` or ``responses`` lacks a column, or as :func:`who_responded`.
    """
    missing = {"audience", "attribute", "value", "size"} - set(sizes.columns)
    missing |= set(WAVE_KEYS) - set(responses.columns)
    if missing:
        raise ValueError(f"who responded needs the columns {', '.join(sorted(missing))}")
    parts = []
    for (instrument, audience, wave), rows in responses.groupby(WAVE_KEYS, sort=False):
        given = sizes[sizes["audience"] == audience]
        if given.empty:
            continue
        threshold = int(min_n_for(pd.Series([audience]), min_n)[0])
        table = who_responded(rows, given[["attribute", "value", "size"]], threshold)
        parts.append(table.assign(instrument=instrument, audience=audience, wave=wave))
    if not parts:
        return pd.DataFrame(columns=[*WAVE_KEYS, *COLUMNS])
    return pd.concat(parts, ignore_index=True)[[*WAVE_KEYS, *COLUMNS]]
