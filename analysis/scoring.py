"""Scoring of Likert-type answers: 0-100 item scores and "positive" indicators.

Answers are scale *positions* ``1..k`` (1 = first option, e.g. "strongly disagree";
"don't know" and blanks must be passed as NaN). Conventions follow the Civil Service People
Survey and DESIGN.md section 5:

* Mean score on 0-100: ``(position - 1) / (k - 1) * 100`` (5-point: 0/25/50/75/100); reverse
  items are flipped, ``(k - position) / (k - 1) * 100``.
* Percent positive: a valid answer is positive if its position is in the scale's positive
  positions; for a reverse item the *mirrored* position ``k + 1 - position`` is tested.

All functions are vectorised, return NaN for missing answers, and keep a Series' index.

References
----------
Cabinet Office (2023). *Civil Service People Survey: technical guide* (0/25/50/75/100
index scoring and percent positive).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .numeric import float_array

__all__ = ["is_positive", "item_score", "respondent_mean"]


def _positions(position: Any, k: Any) -> tuple[np.ndarray, int]:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer number of scale points, got {k!r}")  # noqa: TRY004
    k = int(k)
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    arr = float_array(position, "position")
    valid = ~np.isnan(arr)
    bad = valid & ((arr < 1) | (arr > k) | (arr != np.round(arr)))
    if bad.any():
        examples = sorted(set(arr[bad].tolist()))[:5]
        raise ValueError(f"positions must be whole numbers from 1 to {k}; got {examples}")
    return arr, k


def _reverse(reverse: Any, shape: tuple[int, ...]) -> np.ndarray:
    rev = np.asarray(reverse)
    if rev.dtype.kind != "b":
        raise ValueError("reverse must be a boolean or an array of booleans")
    try:
        return np.broadcast_to(rev, shape)
    except ValueError as exc:
        raise ValueError("reverse does not match the shape of position") from exc


def _wrap(values: np.ndarray, position: Any) -> Any:
    if isinstance(position, pd.Series):
        return pd.Series(values, index=position.index, name=position.name)
    if values.ndim == 0:
        return float(values)
    return values


def item_score(position: Any, k: int, reverse: Any = False) -> Any:
    """Score scale positions on 0-100.

    Parameters
    ----------
    position : array-like
        Positions ``1..k``; NaN for missing / "don't know".
    k : int
        Number of scale points (>= 2).
    reverse : bool or array of bool
        Reverse-scored item(s) (broadcast against ``position``).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        ``(position - 1)/(k - 1) * 100``, or ``(k - position)/(k - 1) * 100`` when
        reversed; NaN where ``position`` is NaN.

    Raises
    ------
    ValueError
        Positions that are not whole numbers in ``1..k``, bad ``k`` or ``reverse``.
    """
    arr, k = _positions(position, k)
    rev = _reverse(reverse, arr.shape)
    score = np.where(rev, k - arr, arr - 1.0) / (k - 1) * 100.0
    return _wrap(score, position)


def is_positive(
    position: Any, positive_positions: Iterable[int], k: int, reverse: Any = False
) -> Any:
    """Indicator (1.0/0.0, NaN if missing) that an answer is positive.

    Parameters
    ----------
    position : array-like
        Positions ``1..k``; NaN for missing / "don't know".
    positive_positions : iterable of int
        The scale's positive positions, e.g. ``{4, 5}`` on a 5-point agree scale.
    k : int
        Number of scale points.
    reverse : bool or array of bool
        For reverse items the mirrored position ``k + 1 - position`` is tested, so the
        negative end of the scale counts as positive.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        1.0 if positive, 0.0 if a valid non-positive answer, NaN if missing. The mean of
        this over valid answers is the share positive.

    Raises
    ------
    ValueError
        Bad positions, ``k`` or ``reverse``; positive positions outside ``1..k``.
    """
    arr, k = _positions(position, k)
    try:
        pos = {int(p) for p in positive_positions}
    except (TypeError, ValueError) as exc:
        raise ValueError("positive_positions must be an iterable of integers") from exc
    if not pos or any(p < 1 or p > k for p in pos):
        raise ValueError(f"positive_positions must be a non-empty set of positions 1..{k}")
    rev = _reverse(reverse, arr.shape)
    tested = np.where(rev, k + 1 - arr, arr)
    hit = np.isin(tested, np.array(sorted(pos), dtype=float)).astype(float)
    out = np.where(np.isnan(arr), np.nan, hit)
    return _wrap(out, position)


def respondent_mean(scores: Any, min_share: float = 0.5, asked: Any = None) -> Any:
    """Per-respondent mean of the items answered, if enough were answered.

    Used for indices (mean 0-100 score of the index items) and the outcome score (share
    of answered outcome items that are positive, from :func:`is_positive` indicators).

    Parameters
    ----------
    scores : pandas.DataFrame or 2-D array
        Respondents x items, NaN for unanswered.
    min_share : float
        Minimum share of the items that must be answered (default one half).
    asked : pandas.DataFrame or 2-D bool array, optional
        True where the respondent was asked the item (routing: an item whose ``show_if`` did
        not hold was not). The share counts the items asked: ``ceil(min_share * m_i)`` of
        the ``m_i`` items respondent i was asked, at least one; NaN when none was asked.
        Default: every item asked.

    Returns
    -------
    pandas.Series or numpy.ndarray
        Row means over non-missing items; NaN where fewer than ``ceil(min_share * m)``
        of the ``m`` items (and at least one) were answered.

    Raises
    ------
    ValueError
        Non-numeric input, wrong dimensionality or ``min_share`` outside [0, 1].
    """
    if not (0 <= min_share <= 1):
        raise ValueError("min_share must be between 0 and 1")
    if isinstance(scores, pd.DataFrame):
        if not all(pd.api.types.is_numeric_dtype(t) for t in scores.dtypes):
            raise ValueError("scores must be numeric")
        x = scores.to_numpy(dtype="float64", na_value=np.nan)
    else:
        x = np.asarray(scores)
        if x.ndim != 2 or x.dtype.kind not in "biuf":
            raise ValueError("scores must be a DataFrame or 2-D numeric array")
        x = x.astype("float64")
    if asked is None:
        m = np.full(x.shape[0], x.shape[1])
    else:
        mask = np.asarray(asked, dtype=bool)
        if mask.shape != x.shape:
            raise ValueError(f"asked has shape {mask.shape}, scores {x.shape}")
        m = mask.sum(axis=1)
    answered = (~np.isnan(x)).sum(axis=1)
    needed = np.maximum(np.ceil(min_share * m - 1e-9).astype(int), 1)
    total = np.nansum(x, axis=1)
    out = np.full(x.shape[0], np.nan)
    ok = answered >= needed
    out[ok] = total[ok] / answered[ok]
    if isinstance(scores, pd.DataFrame):
        return pd.Series(out, index=scores.index)
    return out
