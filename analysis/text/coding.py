"""Automatic coding: apply a codebook's rules to comments.

A comment gets a theme when any of the theme's ``include`` patterns matches and none of its
``exclude`` patterns does (an exclude vetoes the theme for that comment only); a comment may
get several themes or none. Each theme's patterns are combined into one regular expression
and run over the whole Series at once, so 100k comments take a second or two.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from instruments import Codebook
from instruments.codebook import split_patterns


def code_comments(comments: pd.Series | Iterable[str], codebook: Codebook) -> pd.DataFrame:
    """A boolean table: one row per comment (same index), one column per theme id, in
    codebook order. Blank comments (NaN, None, empty) get no theme."""
    series = (
        comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)
    )
    text = series.astype(object).where(series.notna(), "").astype(str)
    # identical comments (common in paper returns and demo data) are matched once
    unique, inverse = np.unique(text.to_numpy(dtype=str), return_inverse=True)
    original = unique.tolist()
    lower = [t.lower() for t in original]
    coded = {}
    for theme in codebook.themes:
        hit = _matches(theme.include, original, lower)
        if theme.exclude:
            hit &= ~_matches(theme.exclude, original, lower, only=hit)
        coded[theme.id] = hit[inverse]
    return pd.DataFrame(coded, index=series.index, columns=codebook.theme_ids, dtype=bool)


def _matches(
    patterns: list[str], original: list[str], lower: list[str], only: np.ndarray | None = None
) -> np.ndarray:
    keyword_re, regex_re = split_patterns(patterns)
    rows = range(len(original)) if only is None else np.flatnonzero(only).tolist()
    hit = np.zeros(len(original), dtype=bool)
    keyword = keyword_re.search if keyword_re is not None else None
    regex = regex_re.search if regex_re is not None else None
    for i in rows:
        hit[i] = (keyword is not None and keyword(lower[i]) is not None) or (
            regex is not None and regex(original[i]) is not None
        )
    return hit


def theme_lists(coded: pd.DataFrame) -> pd.Series:
    """The themes of each comment as a list of ids (codebook order)."""
    columns = list(coded.columns)
    return pd.Series(
        [[c for c, hit in zip(columns, row, strict=True) if hit] for row in coded.to_numpy()],
        index=coded.index,
        dtype=object,
    )
