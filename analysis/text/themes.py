"""Theme tables: how often each codebook theme comes up, per instrument, audience, wave and
breakdown group, with its share of comments, mean sentiment and change between waves.

A comment is one non-blank answer to a text question (already redacted by
:func:`analysis.responses.prepare`); a respondent who answered two text questions gives two
comments. A comment the export withheld for safeguarding review
(:data:`analysis.text.redaction.WITHHELD`) is not a comment here: it is in no count and no
theme until the reviewer has acted and the data are exported again. Per row:

* ``n_respondents``: respondents in the group (all of them, whether or not they commented);
  this is the group size suppression uses, as for every other table;
* ``n_comments``: comments in the group; ``count``: comments coded with the theme;
  ``share`` = 100 × count / n_comments, a percentage like every other table's (NaN when
  there are no comments); counts are unweighted,
  also for weighted audiences: they describe what was said, not the population;
* ``sentiment_mean``: mean VADER compound score of the theme's comments;
* ``change_share``: share minus the share in the previous wave present for the instrument, in
  percentage points
  (same breakdown group and theme), blank when either wave is suppressed;
* suppression by :func:`analysis.suppression.suppress` with ``n_respondents`` as n, including
  complementary suppression within each breakdown, blanking every count and estimate.

Per commenting respondent (a respondent with at least one comment, as defined above):

* ``n_commenting``: commenting respondents in the group; ``respondents``: those with at least
  one comment coded with the theme;
* ``share_commenting``: the theme's share of commenting respondents in %, weighted like the
  items when the wave is weighted: ``p = sum(w * x) / sum(w)`` over commenting respondents,
  ``x`` = 1 if any of the respondent's comments has the theme;
* ``ci_low``, ``ci_high``: Wilson 95% interval of ``p`` (:func:`analysis.inference.wilson_interval`)
  with ``n`` the commenting respondents, or their Kish effective n ``(sum w)^2 / sum w^2``
  (:func:`analysis.estimators.grouped_means`) in a weighted wave, exactly as for the items
  (no finite population correction: commenting respondents are not a sample of a known
  population);
* ``change_commenting``: ``share_commenting`` minus that of the previous wave (points), with
  ``p_value`` from the items' change test (pooled two-proportion z-test, or the z-test on the
  Taylor standard errors when either wave is weighted), ``p_adj`` Benjamini-Hochberg over the
  themes of one instrument, audience, breakdown group and wave pair, ``significant`` =
  ``p_adj < 0.05``;
* a second suppression with the framework's ``min_comment_group_size`` (10 unless set) on
  ``n_commenting``, complementary within each breakdown as above, blanking every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from instruments import Codebook

from ..estimators import grouped_means
from ..inference import (
    benjamini_hochberg,
    two_proportion_ztest,
    weighted_change_z,
    wilson_interval,
)
from ..responses import Prepared, breakdown_labels
from ..suppression import suppress
from .coding import code_comments
from .redaction import WITHHELD
from .sentiment import sentiment

THEME_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "by",
    "group",
    "theme",
    "label",
    "n_respondents",
    "n_comments",
    "count",
    "share",
    "sentiment_mean",
    "change_share",
    "n_commenting",
    "respondents",
    "share_commenting",
    "ci_low",
    "ci_high",
    "change_commenting",
    "p_value",
    "p_adj",
    "significant",
    "suppressed",
]
BLANKED = [
    "n_comments",
    "count",
    "share",
    "sentiment_mean",
    "change_share",
    "n_commenting",
    "respondents",
    "share_commenting",
    "ci_low",
    "ci_high",
    "change_commenting",
    "p_value",
]


def empty_theme_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in THEME_COLUMNS})


def comments_of(prepared: Prepared) -> pd.DataFrame:
    """One row per comment: ``respondent`` (row label in ``prepared.frame``), ``question``
    and ``text``, for every text question of the instrument present in the responses
    (blank and withheld answers are not comments)."""
    frame = prepared.frame
    parts = []
    for question in prepared.instrument.questions:
        if question.type != "text" or question.id not in frame:
            continue
        values = frame[question.id]
        text = values.astype(str).str.strip()
        present = values.notna() & text.ne("") & text.ne(WITHHELD)
        parts.append(
            pd.DataFrame(
                {
                    "respondent": frame.index[present.to_numpy()],
                    "question": question.id,
                    "text": values[present].astype(str).to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "respondent": pd.Series(dtype=object),
                "question": pd.Series(dtype=object),
                "text": pd.Series(dtype=object),
            }
        )
    return pd.concat(parts, ignore_index=True)


def theme_counts(prepared: Prepared, codebook: Codebook, by: Sequence[str] = ()) -> pd.DataFrame:
    """Unsuppressed theme rows for one instrument (see :func:`theme_table`)."""
    frame = prepared.frame
    comments = comments_of(prepared)
    coded = code_comments(comments["text"], codebook)
    scores = sentiment(comments["text"]).to_numpy(dtype=float)
    position = pd.Series(np.arange(len(frame)), index=frame.index)
    at = (
        position.loc[comments["respondent"]].to_numpy()
        if len(comments)
        else np.array([], dtype=int)
    )
    waves = frame["wave"].astype(str).to_numpy()
    filled = [c for c in by if c in frame and frame[c].notna().any()]
    theme_ids = codebook.theme_ids
    labels = {t.id: t.label for t in codebook.themes}
    hits = coded.to_numpy(dtype=float)
    # one row per commenting respondent: 1 where any of their comments has the theme
    per_respondent = (
        pd.DataFrame(hits, columns=theme_ids).groupby(at).max()
        if len(at)
        else pd.DataFrame(columns=theme_ids, dtype=float)
    )
    commenting = per_respondent.index.to_numpy(dtype=int)
    weight = np.asarray(prepared.weight, dtype=float)[commenting]
    weighted_wave = np.isin(waves, list(prepared.weighted_waves))
    tables = []
    for column in [None, *filled]:
        groups = (
            np.full(len(frame), "", dtype=object)
            if column is None
            else breakdown_labels(frame, column).to_numpy(dtype=object)
        )
        keys = pd.MultiIndex.from_arrays([waves, groups], names=["wave", "group"])
        respondents = pd.Series(1, index=keys).groupby(level=[0, 1], sort=True).size()
        comment_keys = pd.MultiIndex.from_arrays([waves[at], groups[at]], names=["wave", "group"])
        per_comment = pd.DataFrame(hits, index=comment_keys, columns=theme_ids)
        counts = per_comment.groupby(level=[0, 1]).sum().reindex(respondents.index, fill_value=0.0)
        n_comments = pd.Series(1.0, index=comment_keys).groupby(level=[0, 1]).sum()
        n_comments = n_comments.reindex(respondents.index, fill_value=0.0)
        weighted = per_comment.mul(np.nan_to_num(scores), axis=0).groupby(level=[0, 1]).sum()
        scored = per_comment.mul(~np.isnan(scores), axis=0).groupby(level=[0, 1]).sum()
        mean_sentiment = (weighted / scored.where(scored > 0)).reindex(respondents.index)
        shares = _commenting_shares(
            per_respondent, weight, waves[commenting], groups[commenting], respondents.index
        )
        is_weighted = pd.Series(weighted_wave, index=keys).groupby(level=[0, 1]).any()
        for theme in theme_ids:
            count = counts[theme]
            share = shares[theme]
            tables.append(
                pd.DataFrame(
                    {
                        "instrument": prepared.instrument.id,
                        "audience": prepared.audience,
                        "wave": respondents.index.get_level_values("wave"),
                        "by": column,
                        "group": respondents.index.get_level_values("group")
                        if column is not None
                        else None,
                        "theme": theme,
                        "label": labels[theme],
                        "n_respondents": respondents.to_numpy(dtype=float),
                        "n_comments": n_comments.to_numpy(dtype=float),
                        "count": count.to_numpy(dtype=float),
                        "share": (100.0 * count / n_comments.where(n_comments > 0)).to_numpy(
                            dtype=float
                        ),
                        "sentiment_mean": mean_sentiment[theme].to_numpy(dtype=float),
                        "n_commenting": share["n"].to_numpy(dtype=float),
                        "respondents": share["x"].to_numpy(dtype=float),
                        "share_commenting": 100.0 * share["mean"].to_numpy(dtype=float),
                        "_se": 100.0 * share["se"].to_numpy(dtype=float),
                        "_n_eff": share["n_eff"].to_numpy(dtype=float),
                        "_weighted": is_weighted.to_numpy(dtype=bool),
                    }
                )
            )
    if not tables:
        return empty_theme_table()
    table = pd.concat(tables, ignore_index=True)
    table["by"] = table["by"].astype(object)
    table["group"] = table["group"].astype(object)
    n_eff = np.where(table["_weighted"], table.pop("_n_eff"), table["n_commenting"])
    interval = wilson_interval(table["share_commenting"].to_numpy(dtype=float) / 100.0, n_eff)
    table["ci_low"] = 100.0 * np.asarray(interval.low, dtype=float)
    table["ci_high"] = 100.0 * np.asarray(interval.high, dtype=float)
    return table


def _commenting_shares(
    per_respondent: pd.DataFrame,
    weight: np.ndarray,
    waves: np.ndarray,
    groups: np.ndarray,
    index: pd.MultiIndex,
) -> dict[str, pd.DataFrame]:
    """Per theme and (wave, group): commenting respondents ``n``, those with the theme ``x``,
    the weighted share ``mean`` with its Taylor ``se`` and Kish ``n_eff``, each wave its own
    design of commenting respondents and the groups its domains (as the items)."""
    columns = ["n", "x", "mean", "se", "n_eff"]
    if per_respondent.empty:
        empty = pd.DataFrame(np.nan, index=index, columns=columns).assign(n=0.0, x=0.0)
        return {theme: empty for theme in per_respondent.columns}
    labels = pd.DataFrame({"wave": waves, "group": groups})
    domain = labels["group"] if (labels["group"] != "").any() else None
    stats = grouped_means(
        per_respondent.reset_index(drop=True), weight, design=labels["wave"], domain=domain
    )
    out = {}
    for theme in per_respondent.columns:
        part = stats.xs(theme, level="item")
        if domain is None:
            part.index = pd.MultiIndex.from_arrays(
                [part.index, [""] * len(part)], names=["wave", "group"]
            )
        part = part.reindex(index)
        x = (
            pd.Series(
                per_respondent[theme].to_numpy(), index=pd.MultiIndex.from_arrays([waves, groups])
            )
            .groupby(level=[0, 1])
            .sum()
            .reindex(index, fill_value=0.0)
        )
        out[theme] = pd.DataFrame(
            {
                "n": part["n"].fillna(0.0).to_numpy(dtype=float),
                "x": x.to_numpy(dtype=float),
                "mean": part["mean"].to_numpy(dtype=float),
                "se": part["se"].to_numpy(dtype=float),
                "n_eff": part["n_eff"].to_numpy(dtype=float),
            },
            index=index,
        )
    return out


def theme_table(
    parts: Sequence[pd.DataFrame],
    min_n: int | Mapping[str, int],
    rank: Mapping[str, int],
    theme_order: Sequence[str] = (),
    min_commenting: int = 10,
) -> pd.DataFrame:
    """Suppress (``min_n`` on respondents, ``min_commenting`` on commenting respondents), add
    the changes between consecutive waves with their tests and sort."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_theme_table()
    table = pd.concat(parts, ignore_index=True)
    table["change_share"] = np.nan
    # Each rule on the unblanked counts; hiding the union keeps both rules' protection (a
    # family's hidden set only grows).
    family = ["instrument", "audience", "wave", "by", "theme"]
    by_respondents = suppress(
        table, min_n, family=family, group_column="group", n_column="n_respondents"
    )["suppressed"]
    by_commenting = suppress(
        table, min_commenting, family=family, group_column="group", n_column="n_commenting"
    )["suppressed"]
    table["suppressed"] = (by_respondents | by_commenting).astype(bool)
    table.loc[table["suppressed"], ["n_respondents", *BLANKED, "_se"]] = np.nan
    series = ["instrument", "by", "group", "theme"]
    keys = table[series].astype(object).fillna("")
    table["_rank"] = table["wave"].map(rank)
    table = table.assign(**{f"_{c}": keys[c] for c in series})
    table = table.sort_values([f"_{c}" for c in series] + ["_rank"], kind="stable")
    # "consecutive" = consecutive among the waves present for the instrument
    present = table.groupby("instrument")["_rank"].apply(lambda r: sorted(set(r)))
    previous = {
        (i, r): ranks[k - 1] for i, ranks in present.items() for k, r in enumerate(ranks) if k
    }
    table["_previous"] = [
        previous.get((i, r), -1) for i, r in zip(table["instrument"], table["_rank"], strict=True)
    ]
    before = table.set_index([f"_{c}" for c in series] + ["_rank"])["share"]
    lookup = pd.MultiIndex.from_arrays([table[f"_{c}"] for c in series] + [table["_previous"]])
    table["change_share"] = table["share"].to_numpy() - before.reindex(lookup).to_numpy(dtype=float)
    _change_tests(table, [f"_{c}" for c in series], lookup)
    theme_rank = {t: k for k, t in enumerate(theme_order)}
    table["_theme"] = table["theme"].map(theme_rank).fillna(len(theme_rank))
    table = table.sort_values(["instrument", "_by", "_group", "_theme", "_rank"], kind="stable")
    table["suppressed"] = table["suppressed"].astype(bool)
    return table[THEME_COLUMNS].reset_index(drop=True)


def _change_tests(table: pd.DataFrame, series: list[str], lookup: pd.MultiIndex) -> None:
    """Change in the share of commenting respondents since the previous wave, tested as the
    items' changes are (see ``analysis.pipeline``): the pooled two-proportion z-test, or the
    z-test on the Taylor SEs when either wave is weighted; BH over the themes of one
    instrument, audience, breakdown group and wave pair. Sets the columns in place."""
    earlier = table.set_index(series + ["_rank"])[
        ["share_commenting", "n_commenting", "_se", "_weighted"]
    ].reindex(lookup)
    p1 = earlier["share_commenting"].to_numpy(dtype=float)
    n1 = earlier["n_commenting"].to_numpy(dtype=float)
    se1 = earlier["_se"].to_numpy(dtype=float)
    p2 = table["share_commenting"].to_numpy(dtype=float)
    n2 = table["n_commenting"].to_numpy(dtype=float)
    se2 = table["_se"].to_numpy(dtype=float)
    weighted = table["_weighted"].fillna(False).to_numpy(dtype=bool) | earlier["_weighted"].fillna(
        False
    ).to_numpy(dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = two_proportion_ztest(p1 / 100 * n1, n1, p2 / 100 * n2, n2)
        by_se = weighted_change_z(p1, se1, p2, se2)
    p_value = np.where(weighted, np.asarray(by_se.p_value), np.asarray(pooled.p_value))
    p_value[np.isnan(p1) | np.isnan(p2)] = np.nan
    table["change_commenting"] = p2 - p1
    table["p_value"] = p_value
    family = [table["instrument"], table["audience"], table["_by"], table["_group"]]
    family += [table["_rank"], table["_previous"]]
    table["p_adj"] = table.groupby(family, sort=False)["p_value"].transform(
        lambda p: pd.Series(benjamini_hochberg(p.to_numpy(float)), index=p.index)
    )
    table["significant"] = (table["p_adj"] < 0.05).where(table["p_adj"].notna()).astype(object)
