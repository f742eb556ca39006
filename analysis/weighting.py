"""Raking (iterative proportional fitting) of survey weights to population margins.

:func:`rake` reproduces R ``survey::rake()`` (Lumley 2010, section 7.3): starting from the
design weights, each raking variable in turn is post-stratified, i.e. every weight in
category ``c`` of variable ``v`` is multiplied by ``N_vc / sum_{i in c} w_i`` (``N_vc`` the
population total), and the cycle is repeated until the weighted cross-classification of all
raking variables changes by less than ``epsilon`` between cycles. As in R, an ``epsilon``
below 1 is relative (here to the population grand total).

:func:`raked_weighted_mean` gives the calibration-aware standard error R reports for a
raked design (``svymean`` on the object returned by ``rake``), where the linearisation
variable is replaced by its residual after backfitting on the raking margins.

References
----------
Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled
frequency table when the expected marginal totals are known. *Ann. Math. Statist.* 11.
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*, chapter 7.
R package ``survey``: ``rake``, ``postStratify``, ``svyrecvar``, ``trimWeights``.

:func:`trim_weights` reproduces ``survey::trimWeights(design, lower, upper, strict=TRUE)``:
weights outside the bounds are set to them and the amount trimmed is shared equally among
the weights that were inside, repeated until none is outside.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.estimators import _as_1d_float, _weights

__all__ = ["rake", "raked_weighted_mean", "trim_weights"]

_MAX_LABELS_IN_MESSAGE = 20


def _format_labels(labels: pd.Index) -> str:
    shown = [repr(x) for x in labels[:_MAX_LABELS_IN_MESSAGE]]
    more = len(labels) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _blank_mask(col: pd.Series) -> np.ndarray:
    """True where a value is missing: NaN/None or an empty/whitespace-only string."""
    missing = col.isna().to_numpy()
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        as_text = col.astype("string")
        blank = as_text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        missing = missing | blank
    return missing


def _validate_margin(var: Hashable, margin: Any) -> tuple[pd.Index, np.ndarray]:
    if isinstance(margin, pd.Series):
        margin = margin.to_dict()
    if not isinstance(margin, Mapping) or len(margin) == 0:
        raise ValueError(f"margin for {var!r} must be a non-empty mapping category -> total")
    categories = pd.Index(list(margin.keys()))
    if categories.has_duplicates:
        raise ValueError(f"margin for {var!r} has duplicate categories")
    try:
        totals = np.array([float(v) for v in margin.values()])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"margin totals for {var!r} must be numbers") from exc
    if not np.all(np.isfinite(totals)) or np.any(totals < 0):
        raise ValueError(f"margin totals for {var!r} must be finite and non-negative")
    return categories, totals


def rake(
    frame: pd.DataFrame,
    margins: Mapping[Hashable, Mapping[Any, float]],
    weights: Any = None,
    epsilon: float = 1e-10,
    max_iter: int = 100,
) -> pd.Series:
    """Rake weights to population margins by iterative proportional fitting (R ``rake``).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per respondent, containing a column for every raking variable.
    margins : mapping
        ``{variable: {category: population total}}``. All margins must have the same
        grand total (to relative 1e-6). Categories with a zero total and no respondents
        are ignored.
    weights : array-like, optional
        Starting (design) weights, non-negative; ``None`` means all 1.
    epsilon : float
        Convergence tolerance on the change of the weighted cross-table of the raking
        variables between two cycles; if ``epsilon < 1`` it is relative, multiplied by the
        population grand total. (R ``survey::rake`` multiplies by the sum of the starting
        weights; the two agree when the starting weights are design weights summing to
        the population, and using the population total makes the result invariant to
        rescaling the starting weights.)
    max_iter : int
        Maximum number of full cycles (R's ``maxit``; R defaults to 10).

    Returns
    -------
    pandas.Series
        Raked weights ``w_i = d_i * prod_v g_{v, c_v(i)}``, indexed like ``frame``, named
        ``"weight"``. Their weighted totals match every margin.

    Raises
    ------
    ValueError
        If ``frame`` is not a DataFrame; a raking variable is not a column; a raking
        variable is blank/NaN or has a category absent from its margin (the message lists
        the affected row labels, which the caller may drop first); a margin category with a
        positive total has no respondents (or zero total weight); a category with
        respondents has a zero population total; margins have different grand totals;
        weights are invalid; or the algorithm does not converge within ``max_iter``.

    Notes
    -----
    Each cycle post-stratifies the variables in the order given:
    ``w_i <- w_i * N_{v,c} / sum_{j: c_v(j) = c} w_j``. Convergence is declared when
    ``max |T_new - T_old| < tol`` over the cells of the full cross-classification
    (R ``svytable`` of all raking variables). Unlike R, a cycle that stops changing
    while some margin is still not met (the sample lacks combinations of categories that
    the margins require) is reported as non-convergence.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("frame must be a pandas DataFrame")  # noqa: TRY004
    if not isinstance(margins, Mapping) or len(margins) == 0:
        raise ValueError("margins must be a non-empty mapping variable -> {category: total}")
    if not np.isfinite(epsilon) or epsilon <= 0:
        raise ValueError("epsilon must be a positive number")
    if int(max_iter) < 1:
        raise ValueError("max_iter must be at least 1")
    n = len(frame)
    if n == 0:
        raise ValueError("frame has no rows")
    if isinstance(weights, pd.Series) and not weights.index.equals(frame.index):
        if len(weights) != n or not weights.index.sort_values().equals(frame.index.sort_values()):
            raise ValueError("weights index does not match frame index")
        weights = weights.reindex(frame.index)
    w = _weights(weights, n).copy()

    codes_list: list[np.ndarray] = []
    targets_list: list[np.ndarray] = []
    grand_totals = []
    for var, margin in margins.items():
        if var not in frame.columns:
            raise ValueError(f"raking variable {var!r} is not a column of frame")
        categories, totals = _validate_margin(var, margin)
        col = frame[var]
        blank = _blank_mask(col)
        if blank.any():
            rows = _format_labels(frame.index[blank])
            raise ValueError(f"raking variable {var!r} is blank/missing for rows {rows}")
        codes = np.asarray(categories.get_indexer(col.to_numpy()), dtype=np.int64)
        unknown = codes < 0
        if unknown.any():
            values = sorted({repr(v) for v in col.to_numpy()[unknown]})
            raise ValueError(
                f"raking variable {var!r} has categories not in its margin ({', '.join(values)}) "
                f"for rows {_format_labels(frame.index[unknown])}"
            )
        sample_totals = np.bincount(codes, weights=w, minlength=len(categories))
        empty = (totals > 0) & (sample_totals <= 0)
        if empty.any():
            names = ", ".join(repr(c) for c in categories[empty])
            raise ValueError(
                f"margin category {names} of {var!r} has a population total but no "
                "respondents (or only zero weights)"
            )
        absent = (totals == 0) & (sample_totals > 0)
        if absent.any():
            names = ", ".join(repr(c) for c in categories[absent])
            raise ValueError(
                f"category {names} of {var!r} has respondents but a zero population total"
            )
        codes_list.append(codes)
        targets_list.append(totals)
        grand_totals.append(totals.sum())
    grand = np.array(grand_totals)
    if np.ptp(grand) > 1e-6 * np.max(np.abs(grand)):
        detail = ", ".join(f"{v!r}: {t:g}" for v, t in zip(margins.keys(), grand, strict=False))
        raise ValueError(f"margins have different grand totals ({detail}); raking cannot converge")

    # cross-classification cell of each row, for the convergence check
    cross = np.zeros(n, dtype=np.int64)
    for codes, totals in zip(codes_list, targets_list, strict=False):
        cross = cross * len(totals) + codes
    _, cell = np.unique(cross, return_inverse=True)
    n_cells = int(cell.max()) + 1

    grand_total = float(grand.mean())
    tol = epsilon * grand_total if epsilon < 1 else epsilon
    old_table = np.bincount(cell, weights=w, minlength=n_cells)
    for _ in range(int(max_iter)):
        for codes, totals in zip(codes_list, targets_list, strict=False):
            current = np.bincount(codes, weights=w, minlength=len(totals))
            factor = np.divide(totals, current, out=np.ones_like(totals), where=current > 0)
            w *= factor[codes]
        new_table = np.bincount(cell, weights=w, minlength=n_cells)
        if np.max(np.abs(new_table - old_table)) < tol:
            _check_margins_met(codes_list, targets_list, w, margins, tol + 1e-6 * grand_total)
            return pd.Series(w, index=frame.index, name="weight")
        old_table = new_table
    raise ValueError(f"raking did not converge after {int(max_iter)} iterations")


def _check_margins_met(
    codes_list: list[np.ndarray],
    targets_list: list[np.ndarray],
    w: np.ndarray,
    margins: Mapping[Hashable, Any],
    tol: float,
) -> None:
    """Raise if IPF stalled without matching every margin (structural zeros)."""
    for var, codes, totals in zip(margins.keys(), codes_list, targets_list, strict=False):
        achieved = np.bincount(codes, weights=w, minlength=len(totals))
        if np.max(np.abs(achieved - totals)) > tol:
            raise ValueError(
                f"raking did not converge: the margin of {var!r} cannot be matched "
                "(the sample lacks combinations of categories the margins require)"
            )


def raked_weighted_mean(
    y: Any,
    frame: pd.DataFrame,
    variables: list[Hashable],
    weights: Any,
    backfit_iter: int = 10,
) -> tuple[float, float]:
    """Weighted mean with the calibration-aware SE of a raked design (R ``svymean`` on ``rake``).

    Parameters
    ----------
    y : array-like of float
        Values, no missing values (R would give the raked design zero weights for them).
    frame : pandas.DataFrame
        Rows aligned with ``y``; holds the raking variables.
    variables : list
        Names of the raking variables (the keys of the margins passed to :func:`rake`).
    weights : array-like
        The raked weights returned by :func:`rake` (positive).
    backfit_iter : int
        Number of backfitting sweeps; R's ``svyrecvar`` uses 10.

    Returns
    -------
    mean, se : float
        ``ybar = sum(w y)/sum(w)``. With ``z_i = w_i (y_i - ybar)/sum(w)`` and ``u = z/w``,
        each sweep replaces ``u`` by ``u - mean_c(u)`` (unweighted mean within the
        category ``c`` of each raking variable in turn), approximating the residual of
        ``u`` on the raking margins; then ``se**2 = n/(n-1) sum (w_i u_i - mean)**2``.

    Raises
    ------
    ValueError
        Missing/non-numeric ``y``, zero/negative weights, unknown variables, length
        mismatches or missing raking categories.

    References
    ----------
    Lumley (2010), section 7.3; R ``survey:::svyrecvar`` (``"raking"`` branch).
    """
    yv = _as_1d_float(y, "y", allow_nan=False)
    n = yv.shape[0]
    if not isinstance(frame, pd.DataFrame) or len(frame) != n:
        raise ValueError("frame must be a DataFrame with one row per value of y")
    w = _weights(weights, n)
    if (w <= 0).any():
        raise ValueError("raked weights must be positive")
    if n < 2:
        return (float(yv[0]) if n else float("nan")), float("nan")
    codes_list = []
    for var in variables:
        if var not in frame.columns:
            raise ValueError(f"raking variable {var!r} is not a column of frame")
        col = frame[var]
        if _blank_mask(col).any():
            raise ValueError(f"raking variable {var!r} has missing values")
        codes, _ = pd.factorize(col)
        codes_list.append(np.asarray(codes, dtype=np.int64))
    total = w.sum()
    mean = float(np.sum(w * yv) / total)
    u = (yv - mean) / total
    for _ in range(int(backfit_iter)):
        for codes in codes_list:
            sums = np.bincount(codes, weights=u)
            counts = np.bincount(codes)
            u = u - (sums / counts)[codes]
    x = w * u
    x = x - x.mean()
    var = n / (n - 1.0) * np.sum(x * x)
    return mean, float(np.sqrt(var))


def trim_weights(weights: Any, lower: float, upper: float, max_iter: int = 1000) -> np.ndarray:
    """Trim weights to ``[lower, upper]`` as R ``survey::trimWeights(..., strict=TRUE)``.

    Parameters
    ----------
    weights : array-like of float
        Final (e.g. raked) weights, positive and finite.
    lower, upper : float
        Absolute bounds, ``lower < upper`` (the pipeline passes LOWER and UPPER times the
        mean final weight of the audience-wave).
    max_iter : int
        Safety bound on the number of passes (R recurses without one).

    Returns
    -------
    numpy.ndarray
        Each pass sets ``w_out = clip(w, lower, upper)`` for the weights strictly outside the
        bounds and adds ``sum(w - w_out) / (number inside)`` to every weight inside; passes
        repeat while any weight is strictly outside. The total weight is unchanged.

    Raises
    ------
    ValueError
        Bad weights, ``lower >= upper``, bounds whose interval cannot hold the mean weight
        (every weight would be outside), or no convergence within ``max_iter`` passes.

    References
    ----------
    R ``survey:::trimWeights.survey.design2`` (survey 4.1); Potter, F. (1990). A study of
    procedures to identify and trim extreme sampling weights. *Proc. Survey Research
    Methods Section, ASA*, 225-230.
    """
    w = _as_1d_float(weights, "weights", allow_nan=False).copy()
    if (w <= 0).any():
        raise ValueError("weights to trim must be positive")
    if not (np.isfinite(lower) and np.isfinite(upper)) or lower >= upper:
        raise ValueError(
            f"trimming bounds must be finite with lower < upper, got {lower:g} and {upper:g}"
        )
    mean = w.mean() if w.size else 0.0
    if w.size and not (lower <= mean <= upper):
        raise ValueError(
            f"the mean weight {mean:g} lies outside the trimming bounds {lower:g}-{upper:g}"
        )
    for _ in range(int(max_iter)):
        outside = (w < lower) | (w > upper)
        if not outside.any():
            return w
        trimmed = np.clip(w, lower, upper)
        inside = ~outside
        if not inside.any():
            raise ValueError("every weight is outside the trimming bounds")
        trimmed[inside] += np.sum(w - trimmed) / inside.sum()
        w = trimmed
    raise ValueError(f"weight trimming did not converge after {int(max_iter)} passes")
