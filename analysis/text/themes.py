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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from instruments import Codebook

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
    "suppressed",
]
BLANKED = ["n_comments", "count", "share", "sentiment_mean", "change_share"]


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
        for theme in theme_ids:
            count = counts[theme]
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
                    }
                )
            )
    if not tables:
        return empty_theme_table()
    table = pd.concat(tables, ignore_index=True)
    table["by"] = table["by"].astype(object)
    table["group"] = table["group"].astype(object)
    return table


def theme_table(
    parts: Sequence[pd.DataFrame],
    min_n: int | Mapping[str, int],
    rank: Mapping[str, int],
    theme_order: Sequence[str] = (),
) -> pd.DataFrame:
    """Suppress, add the change in share between consecutive waves and sort."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_theme_table()
    table = pd.concat(parts, ignore_index=True)
    table["change_share"] = np.nan
    table = suppress(
        table,
        min_n,
        family=["instrument", "audience", "wave", "by", "theme"],
        group_column="group",
        n_column="n_respondents",
        blank=BLANKED,
    )
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
    theme_rank = {t: k for k, t in enumerate(theme_order)}
    table["_theme"] = table["theme"].map(theme_rank).fillna(len(theme_rank))
    table = table.sort_values(["instrument", "_by", "_group", "_theme", "_rank"], kind="stable")
    table["suppressed"] = table["suppressed"].astype(bool)
    return table[THEME_COLUMNS].reset_index(drop=True)
