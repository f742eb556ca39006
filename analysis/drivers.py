"""Key drivers: which items go with an index or outcome score (associated with, not the cause of).

For a target (an index or outcome, chosen in the framework's ``key_drivers``; default the
confidence and culture indices) per instrument, audience and wave:

* **Target** ``y``: the respondent-level score of the indicators (index: mean 0-100 score of
  the items answered; outcome: % of the answered items positive), at least half answered.
* **Predictors** ``x_1..x_p``: the instrument's scale items outside the target, as 0-100 scores
  with reverse items flipped (items nobody answered in the wave are left out); at most
  :data:`MAX_PREDICTORS`, else the note "too many items".
* **Listwise** on target and predictors; fewer than the framework's
  ``min_driver_respondents`` (default 100) gives the note "too few to estimate".
* **Fit**: weighted least squares with an intercept (plain least squares when unweighted),
  ``R^2 = 1 - sum w e^2 / sum w (y - ybar_w)^2``. For a subset ``S`` of predictors this is
  ``R^2(S) = s_yS' S_SS^+ s_yS / s_yy`` from the weighted centred cross-products
  ``S = sum w (z - zbar_w)(z - zbar_w)'`` of ``z = (x, y)`` (``+``: Moore-Penrose inverse, so
  a constant or collinear predictor adds nothing rather than failing).
* **Importance**: the Shapley value of each predictor in the R^2 game, i.e. the LMG
  decomposition (Lindeman, Merenda and Gold 1980; Gromping 2006):
  ``phi_j = sum_{S not containing j} |S|! (p - |S| - 1)! / p! * (R^2(S + j) - R^2(S))``
  over all ``2^(p-1)`` subsets, reported as ``100 * phi_j / R^2`` (% of R^2; the
  importances of one target sum to 100).
* **CI**: 95% percentile interval of the importance over :data:`BOOTSTRAP_RESAMPLES`
  resamples of respondents with replacement (each keeps its weight), drawn with
  ``numpy.random.default_rng(SEED)``, :data:`SEED` = 18, one generator per target in a fixed
  order, so a run is reproducible.
* ``item_score``: the weighted mean 0-100 score of the predictor over the listwise set.

References
----------
Lindeman, R. H., Merenda, P. F. and Gold, R. Z. (1980). *Introduction to Bivariate and
Multivariate Analysis*. Scott, Foresman.
Gromping, U. (2006). Relative importance for linear regression in R: the package relaimpo.
*Journal of Statistical Software* 17(1).
Efron, B. and Tibshirani, R. (1993). *An Introduction to the Bootstrap*, chapter 13.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from math import factorial

import numpy as np
import pandas as pd

from .notes import Note
from .responses import Prepared
from .suppression import suppress

DRIVER_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "target_level",
    "target_id",
    "item",
    "n",
    "r2",
    "importance",
    "ci_low",
    "ci_high",
    "item_score",
]
MAX_PREDICTORS = 15
BOOTSTRAP_RESAMPLES = 200
SEED = 18
DEFAULT_TARGETS = ("index:confidence", "index:culture")
DEFAULT_MIN_RESPONDENTS = 100


def empty_drivers() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in DRIVER_COLUMNS})


class _Subsets:
    """The Shapley coefficients of every subset's R^2 for ``p`` predictors; built once per
    ``p`` (see :func:`_subsets`).

    ``phi_j = sum_{S not containing j} w(|S|) (R^2(S + j) - R^2(S))`` with
    ``w(s) = s! (p - s - 1)! / p!`` regroups as ``sum_S c_Sj R^2(S)``, where ``c_Sj = w(|S| - 1)``
    when ``S`` contains ``j`` and ``-w(|S|)`` otherwise: one matrix product per fit."""

    def __init__(self, p: int) -> None:
        self.p = p
        every = np.arange(1 << p)
        contains = ((every[:, None] >> np.arange(p)) & 1).astype(bool)
        size = contains.sum(axis=1)
        weight = np.array(
            [factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)] + [0.0]
        )
        self.coefficients = np.where(
            contains, weight[np.maximum(size - 1, 0)][:, None], -weight[size][:, None]
        )


@lru_cache(maxsize=MAX_PREDICTORS)
def _subsets(p: int) -> _Subsets:
    return _Subsets(p)


def r2_of_subsets(cross: np.ndarray, p: int) -> np.ndarray:
    """R^2 of every subset of ``p`` predictors (last axis: bit mask; 0 for the empty set) from
    the weighted centred cross-products of ``(x_1..x_p, y)``, one matrix or a stack of them
    (shape ``(..., p + 1, p + 1)``; the bootstrap passes its resamples at once).

    Sweeping a predictor out of a cross-product matrix (the rank-one update
    ``A - a_j a_j' / a_jj``) leaves the residual cross-products given the predictors swept so
    far, so ``R^2(S) = 1 - A_S[y, y] / s_yy``. Predictor ``j`` is taken in turn: the subsets
    of predictors below ``j`` (bit masks ``0 .. 2^j - 1``) each keep the block of residual
    cross-products of predictors ``j..`` and ``y``; the subsets that add ``j`` (masks
    ``2^j + m``) are those blocks swept on ``j``, and the next step's blocks are both sets
    without their row and column ``j`` (``sum_j 2^j (p + 1 - j)^2`` numbers in ``p`` array
    operations). A predictor whose residual sum of squares is (numerically) zero, constant
    or collinear with the subset, is not swept and adds nothing, as a pseudo-inverse would."""
    stack = cross.reshape(-1, p + 1, p + 1)
    syy = stack[:, p, p]
    tolerance = 1e-10 * np.diagonal(stack, axis1=1, axis2=2)
    r2 = np.zeros((len(stack), 1 << p))
    blocks = stack[:, None, :, :]  # (stack, subsets by mask, predictors j.. and y, same)
    for j in range(p):
        column = blocks[:, :, 1:, 0]
        diagonal = blocks[:, :, 0, 0]
        usable = diagonal > tolerance[:, j, None]
        scale = np.where(usable, 1.0 / np.where(usable, diagonal, 1.0), 0.0)
        rest = blocks[:, :, 1:, 1:]
        following = np.empty((len(stack), 2 << j, p - j, p - j))
        following[:, : 1 << j] = rest
        swept = following[:, 1 << j :]  # written in place: the arrays are the bulk of the time
        np.multiply(column[:, :, :, None], (column * scale[:, :, None])[:, :, None, :], out=swept)
        np.subtract(rest, swept, out=swept)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2[:, 1 << j : 2 << j] = 1.0 - swept[:, :, -1, -1] / syy[:, None]
        blocks = following
    r2[syy <= 0] = np.nan
    return r2.reshape(*cross.shape[:-2], 1 << p)


def shapley_shares(r2: np.ndarray, subsets: _Subsets) -> np.ndarray:
    """Shapley value of each predictor in the R^2 game (sums to R^2 of all predictors)."""
    return np.asarray(r2 @ subsets.coefficients)


CROSS_ROWS = 8192  # respondents per block of the cross-products of a stack of weights


def _cross_products(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum w (z - zbar_w)(z - zbar_w)'``; ``w`` one weight vector or a stack of them.

    For a stack, ``sum w z0 z0' - (sum w z0)(sum w z0)' / sum w`` with ``z0`` centred on the
    first weights' mean (which keeps the subtraction well conditioned), as one matrix
    product per block of respondents."""
    weights = np.atleast_2d(w)
    k = values.shape[1]
    centred = values - (weights[0] @ values) / weights[0].sum()
    second = np.zeros((len(weights), k * k))
    for start in range(0, len(values), CROSS_ROWS):
        part = centred[start : start + CROSS_ROWS]
        outer = (part[:, :, None] * part[:, None, :]).reshape(len(part), k * k)
        second += weights[:, start : start + CROSS_ROWS] @ outer
    first = weights @ centred
    out = (
        second.reshape(-1, k, k)
        - first[:, :, None] * first[:, None, :] / weights.sum(axis=1)[:, None, None]
    )
    return out if np.ndim(w) == 2 else out[0]


BOOTSTRAP_CHUNK = 25  # resamples swept at once (memory: chunk x sum_j 2^j (p + 1 - j)^2)


def relative_importance(
    y: np.ndarray,
    x: np.ndarray,
    w: np.ndarray | None = None,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = SEED,
) -> dict[str, np.ndarray | float]:
    """LMG relative importance of the columns of ``x`` for ``y`` by weighted least squares.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Target, without missing values.
    x : ndarray, shape (n, p)
        Predictors, without missing values, ``1 <= p <= MAX_PREDICTORS``.
    w : ndarray, optional
        Non-negative weights (``None``: ordinary least squares).
    resamples, seed : int
        Bootstrap resamples and the seed of ``numpy.random.default_rng``: resample ``b``
        draws ``rng.integers(0, n, n)`` (respondents with replacement, each keeping its
        weight, i.e. weights ``w * count``).

    Returns
    -------
    dict
        ``r2`` (0-1), ``importance`` (% of R^2, sums to 100), ``ci_low`` and ``ci_high``
        (2.5th and 97.5th percentiles of the bootstrap importances, linear interpolation).

    Raises
    ------
    ValueError
        Mismatched shapes, missing values, or more than ``MAX_PREDICTORS`` predictors.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must have one row per value of y, got shapes {x.shape} and {y.shape}")
    n, p = x.shape
    if not 1 <= p <= MAX_PREDICTORS:
        raise ValueError(f"relative importance needs 1 to {MAX_PREDICTORS} predictors, not {p}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("relative importance needs complete cases (listwise)")
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    values = np.column_stack([x, y])
    subsets = _subsets(p)

    def shares(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r2 = r2_of_subsets(_cross_products(values, weights), p)
        full = r2[..., -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return full, 100.0 * shapley_shares(r2, subsets) / full[..., None]

    r2, importance = shares(w)
    rng = np.random.default_rng(seed)
    draws = [np.bincount(rng.integers(0, n, n), minlength=n) * w for _ in range(resamples)]
    boot = [
        shares(np.array(draws[start : start + BOOTSTRAP_CHUNK]))[1]
        for start in range(0, resamples, BOOTSTRAP_CHUNK)
    ]
    if boot:
        low, high = np.nanpercentile(np.concatenate(boot), [2.5, 97.5], axis=0)
    else:
        low = high = np.full(p, np.nan)
    return {"r2": float(r2), "importance": importance, "ci_low": low, "ci_high": high}


def key_drivers(
    prepared: Prepared,
    respondent: pd.DataFrame,
    targets: Sequence[str] = DEFAULT_TARGETS,
    min_respondents: int = DEFAULT_MIN_RESPONDENTS,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = SEED,
) -> tuple[pd.DataFrame, list[Note]]:
    """Driver rows of one instrument per wave and target, and a note per target that could
    not be estimated (too many items, too few respondents).

    Parameters
    ----------
    prepared : Prepared
        The instrument's respondents (``score``: 0-100 per item, reverse items flipped).
    respondent : DataFrame
        Respondent-level index and outcome scores, columns ``level:id``.
    targets : sequence of str
        ``level:id`` of the targets; those the instrument lacks are skipped.
    min_respondents : int
        Fewest listwise respondents to estimate.
    """
    instrument = prepared.instrument
    rows: list[dict[str, object]] = []
    notes: list[Note] = []
    waves = prepared.frame.groupby(prepared.waves.astype(str), sort=False).indices
    for target in targets:
        if target not in respondent:
            continue
        level, target_id = target.split(":", 1)
        inside = _target_items(prepared, level, target_id)
        outside = [q.id for q in instrument.scale_questions if q.id not in inside]
        for wave, positions in waves.items():
            scores = prepared.score.iloc[positions]
            items = [q for q in outside if scores[q].notna().any()]

            def note(
                text: str, wave: str = wave, level: str = level, target_id: str = target_id
            ) -> None:
                notes.append(Note(instrument.id, prepared.audience, wave, text, level, target_id))

            if not items:
                continue
            if len(items) > MAX_PREDICTORS:
                note(
                    f"key drivers: too many items ({len(items)} predictors, at most "
                    f"{MAX_PREDICTORS})"
                )
                continue
            y = respondent[target].to_numpy(dtype=float)[positions]
            x = scores[items].to_numpy(dtype=float)
            w = prepared.weight[positions]
            complete = ~np.isnan(y) & ~np.isnan(x).any(axis=1)
            n = int(complete.sum())
            if n < min_respondents:
                note(
                    f"key drivers: too few to estimate ({n} respondent{'' if n == 1 else 's'}"
                    " answered the target and "
                    f"every predictor, at least {min_respondents} needed)"
                )
                continue
            fit = relative_importance(
                y[complete], x[complete], w[complete], resamples=resamples, seed=seed
            )
            wc = w[complete]
            item_score = (wc @ x[complete]) / wc.sum()
            for j, item in enumerate(items):
                rows.append(
                    {
                        "instrument": instrument.id,
                        "audience": prepared.audience,
                        "wave": wave,
                        "target_level": level,
                        "target_id": target_id,
                        "item": item,
                        "n": n,
                        "r2": fit["r2"],
                        "importance": fit["importance"][j],  # type: ignore[index]
                        "ci_low": fit["ci_low"][j],  # type: ignore[index]
                        "ci_high": fit["ci_high"][j],  # type: ignore[index]
                        "item_score": item_score[j],
                    }
                )
    return pd.DataFrame(rows, columns=DRIVER_COLUMNS), notes


def _target_items(prepared: Prepared, level: str, target_id: str) -> set[str]:
    instrument = prepared.instrument
    questions = (
        instrument.index_questions(target_id)
        if level == "index"
        else instrument.outcome_questions(target_id)
    )
    return {q.id for q in questions}


def drivers_table(
    parts: Sequence[pd.DataFrame], thresholds: int | Mapping[str, int], rank: Mapping[str, int]
) -> pd.DataFrame:
    """The drivers of every instrument, in wave order, the most important first; through
    :func:`analysis.suppression.suppress` like every table (a framework whose minimum group
    size exceeds ``min_driver_respondents`` hides them)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_drivers()
    table = pd.concat(parts, ignore_index=True)
    table = suppress(table, thresholds, blank=DRIVER_COLUMNS[7:])
    table = table[~table["suppressed"]]
    table["_rank"] = table["wave"].map(rank)
    table = table.sort_values(
        ["instrument", "_rank", "target_level", "target_id", "importance"],
        ascending=[True, True, True, True, False],
        kind="stable",
    )
    return table[DRIVER_COLUMNS].reset_index(drop=True)
