"""Confidence intervals, tests of change and multiplicity control.

All functions are vectorised (numpy broadcasting). Scalars in give floats out; arrays give
arrays; if any argument is a pandas Series the result keeps that Series' index. Invalid
*values* (negative counts, proportions outside [0, 1], ...) raise ``ValueError``; cases
where a statistic is undefined (``n = 0``, zero variance, ...) give NaN without a warning.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*JASA* 22, 209-212.
Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley (sections 3.1, 5.1.4).
Welch, B. L. (1947). The generalization of Student's problem when several different
population variances are involved. *Biometrika* 34, 28-35.
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57.
Armitage, P. (1955). Tests for linear trends in proportions and frequencies.
*Biometrics* 11, 375-386. R ``stats::prop.trend.test``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# scipy.special, not scipy.stats: the same distribution functions without a second of
# import time on every CLI run.
from scipy import special

from analysis.estimators import _first_series

from .numeric import float_array

__all__ = [
    "Interval",
    "TTestResult",
    "TrendTestResult",
    "ZTestResult",
    "benjamini_hochberg",
    "cochran_armitage",
    "minimum_detectable_change",
    "two_proportion_ztest",
    "weighted_change_z",
    "welch_ttest",
    "welch_ttest_from_stats",
    "wilson_interval",
]

Z_975 = 1.959963984540054  # qnorm(0.975)
Z_80 = 0.8416212335729143  # qnorm(0.80)


class Interval(NamedTuple):
    """Lower and upper limits of a confidence interval."""

    low: Any
    high: Any


class ZTestResult(NamedTuple):
    """A z statistic (signed: later minus earlier) and its two-sided normal p-value."""

    z: Any
    p_value: Any


class TTestResult(NamedTuple):
    """Welch t statistic (signed: second minus first), its degrees of freedom and p-value."""

    t: Any
    df: Any
    p_value: Any


class TrendTestResult(NamedTuple):
    """Chi-squared statistic on 1 df and its p-value."""

    chi2: Any
    p_value: Any


def _broadcast(names: tuple[str, ...], *values: Any) -> list[np.ndarray]:
    arrays = [float_array(v, n) for v, n in zip(values, names, strict=False)]
    try:
        return list(np.broadcast_arrays(*arrays))
    except ValueError as exc:
        raise ValueError(f"{', '.join(names)} have incompatible shapes") from exc


def _out(values: np.ndarray, inputs: tuple[Any, ...]) -> Any:
    series = _first_series(*inputs)
    arr = np.asarray(values, dtype=float)
    if series is not None and arr.ndim == 1 and arr.shape[0] == len(series):
        return pd.Series(arr, index=series.index)
    if arr.ndim == 0:
        return float(arr)
    return arr


def _z_for_level(level: float) -> float:
    if not (0 < level < 1):
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    return float(special.ndtri(0.5 + level / 2))


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    return 2.0 * special.ndtr(-np.abs(z))


def wilson_interval(p: Any, n: Any, level: float = 0.95) -> Interval:
    """Wilson score interval for a proportion.

    Parameters
    ----------
    p : array-like of float
        Observed proportion(s), in [0, 1] (NaN allowed: gives NaN).
    n : array-like of float
        Sample size(s); may be fractional, e.g. the Kish effective n of a weighted
        estimate. ``n <= 0`` or NaN gives NaN.
    level : float
        Confidence level (default 0.95).

    Returns
    -------
    Interval
        ``(low, high)`` with, for ``z = qnorm(1 - (1-level)/2)``,
        ``centre = (p + z**2/(2n)) / (1 + z**2/n)`` and
        ``half = z / (1 + z**2/n) * sqrt(p(1-p)/n + z**2/(4 n**2))``.
        Equals R ``prop.test(x, n, correct=FALSE)$conf.int`` and statsmodels
        ``proportion_confint(method="wilson")``.

    Raises
    ------
    ValueError
        ``p`` outside [0, 1], non-numeric input, bad ``level``.

    References
    ----------
    Wilson (1927); Agresti and Coull (1998), *Am. Stat.* 52, 119-126.
    """
    z = _z_for_level(level)
    pa, na = _broadcast(("p", "n"), p, n)
    if np.any((pa < 0) | (pa > 1)):
        raise ValueError("p must be between 0 and 1")
    ok = (na > 0) & ~np.isnan(pa) & ~np.isnan(na)
    ns = np.where(ok, na, 1.0)
    ps = np.where(ok, pa, 0.5)
    z2 = z * z
    denom = 1.0 + z2 / ns
    centre = (ps + z2 / (2 * ns)) / denom
    half = z / denom * np.sqrt(ps * (1 - ps) / ns + z2 / (4 * ns * ns))
    low = np.where(ok, np.maximum(centre - half, 0.0), np.nan)
    high = np.where(ok, np.minimum(centre + half, 1.0), np.nan)
    return Interval(_out(low, (p, n)), _out(high, (p, n)))


def two_proportion_ztest(x1: Any, n1: Any, x2: Any, n2: Any) -> ZTestResult:
    """Pooled two-proportion z-test (R ``prop.test(c(x1, x2), c(n1, n2), correct=FALSE)``).

    Parameters
    ----------
    x1, n1 : array-like
        Positives and sample size at the earlier ("from") occasion.
    x2, n2 : array-like
        Positives and sample size at the later ("to") occasion. Fractional values are
        allowed (e.g. ``p_hat * Kish n`` for weighted data).

    Returns
    -------
    ZTestResult
        ``z = (p2 - p1) / sqrt(pbar (1 - pbar) (1/n1 + 1/n2))`` with
        ``pbar = (x1 + x2)/(n1 + n2)``, signed as change = to - from, and the two-sided
        p-value ``2 * (1 - Phi(|z|))``. ``z**2`` is R's X-squared (1 df). NaN when a
        sample is empty or ``pbar`` is 0 or 1 (R also returns NaN).

    Raises
    ------
    ValueError
        Negative counts, ``x > n``, non-numeric input.

    References
    ----------
    Agresti (2013), section 3.1; R ``stats::prop.test``.
    """
    a1, b1, a2, b2 = _broadcast(("x1", "n1", "x2", "n2"), x1, n1, x2, n2)
    for x, n, label in ((a1, b1, "1"), (a2, b2, "2")):
        if np.any(x < 0) or np.any(n < 0):
            raise ValueError(f"x{label} and n{label} must be non-negative")
        if np.any(x > n * (1 + 1e-12)):
            raise ValueError(f"x{label} must not exceed n{label}")
    ok = (b1 > 0) & (b2 > 0)
    n1s = np.where(ok, b1, 1.0)
    n2s = np.where(ok, b2, 1.0)
    pooled = (a1 + a2) / (n1s + n2s)
    var = pooled * (1 - pooled) * (1 / n1s + 1 / n2s)
    ok &= var > 0
    diff = a2 / n2s - a1 / n1s
    z = np.where(ok, diff / np.sqrt(np.where(ok, var, 1.0)), np.nan)
    p = np.where(ok, _two_sided_p(np.nan_to_num(z)), np.nan)
    inputs = (x1, n1, x2, n2)
    return ZTestResult(_out(z, inputs), _out(p, inputs))


def welch_ttest_from_stats(
    mean1: Any, sd1: Any, n1: Any, mean2: Any, sd2: Any, n2: Any
) -> TTestResult:
    """Welch's unequal-variance t-test from summary statistics.

    Parameters
    ----------
    mean1, sd1, n1 : array-like
        Mean, sample standard deviation (``ddof=1``) and size of the earlier sample.
    mean2, sd2, n2 : array-like
        The same for the later sample.

    Returns
    -------
    TTestResult
        ``t = (mean2 - mean1) / sqrt(v1 + v2)`` with ``v = sd**2 / n``, Welch-Satterthwaite
        ``df = (v1 + v2)**2 / (v1**2/(n1-1) + v2**2/(n2-1))`` and two-sided p from the t
        distribution; as ``scipy.stats.ttest_ind(b, a, equal_var=False)`` and R
        ``t.test(b, a)``. NaN if either ``n < 2`` or both variances are zero.

    Raises
    ------
    ValueError
        Negative standard deviations or sizes, non-numeric input.

    References
    ----------
    Welch (1947); Satterthwaite (1946), *Biometrics Bulletin* 2, 110-114.
    """
    m1, s1, k1, m2, s2, k2 = _broadcast(
        ("mean1", "sd1", "n1", "mean2", "sd2", "n2"), mean1, sd1, n1, mean2, sd2, n2
    )
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise ValueError("standard deviations must be non-negative")
    if np.any(k1 < 0) or np.any(k2 < 0):
        raise ValueError("sample sizes must be non-negative")
    ok = (k1 >= 2) & (k2 >= 2)
    k1s = np.where(ok, k1, 2.0)
    k2s = np.where(ok, k2, 2.0)
    v1 = s1 * s1 / k1s
    v2 = s2 * s2 / k2s
    se2 = v1 + v2
    ok &= se2 > 0
    se2s = np.where(ok, se2, 1.0)
    t = np.where(ok, (m2 - m1) / np.sqrt(se2s), np.nan)
    dden = v1 * v1 / (k1s - 1) + v2 * v2 / (k2s - 1)
    df = np.where(ok, se2s * se2s / np.where(ok, dden, 1.0), np.nan)
    p = np.where(ok, 2.0 * special.stdtr(np.where(ok, df, 1.0), -np.abs(np.nan_to_num(t))), np.nan)
    inputs = (mean1, sd1, n1, mean2, sd2, n2)
    return TTestResult(_out(t, inputs), _out(df, inputs), _out(p, inputs))


def welch_ttest(sample1: Any, sample2: Any) -> TTestResult:
    """Welch's t-test from raw samples (NaNs ignored); sign follows ``mean2 - mean1``.

    Parameters
    ----------
    sample1, sample2 : array-like of float
        Earlier and later samples (one-dimensional).

    Returns
    -------
    TTestResult
        As :func:`welch_ttest_from_stats` applied to the means, ``ddof=1`` standard
        deviations and sizes of the non-missing values; equals
        ``scipy.stats.ttest_ind(sample2, sample1, equal_var=False)``.
    """
    a = float_array(sample1, "sample1")
    b = float_array(sample2, "sample2")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("samples must be one-dimensional")
    a = a[~np.isnan(a)]
    b = b[~np.isnan(b)]

    def summary(v: np.ndarray) -> tuple[float, float, int]:
        if v.shape[0] < 2:
            return float("nan"), float("nan"), int(v.shape[0])
        return float(v.mean()), float(v.std(ddof=1)), int(v.shape[0])

    ma, sa, na = summary(a)
    mb, sb, nb = summary(b)
    if na < 2 or nb < 2:
        nan = float("nan")
        return TTestResult(nan, nan, nan)
    return welch_ttest_from_stats(ma, sa, na, mb, sb, nb)


def weighted_change_z(est1: Any, se1: Any, est2: Any, se2: Any) -> ZTestResult:
    """z-test of change between two independent estimates with standard errors.

    Parameters
    ----------
    est1, se1 : array-like
        Earlier estimate and its standard error (e.g. Taylor SE from
        :func:`analysis.estimators.grouped_means`).
    est2, se2 : array-like
        Later estimate and its standard error.

    Returns
    -------
    ZTestResult
        ``z = (est2 - est1) / sqrt(se1**2 + se2**2)`` and two-sided normal p-value.
        NaN if both SEs are zero or any input is NaN.

    Raises
    ------
    ValueError
        Negative standard errors, non-numeric input.

    References
    ----------
    Lumley (2010), section 2.4 (contrasts of independent estimates).
    """
    e1, s1, e2, s2 = _broadcast(("est1", "se1", "est2", "se2"), est1, se1, est2, se2)
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise ValueError("standard errors must be non-negative")
    se = np.sqrt(s1 * s1 + s2 * s2)
    ok = se > 0
    z = np.where(ok, (e2 - e1) / np.where(ok, se, 1.0), np.nan)
    p = np.where(ok & ~np.isnan(z), _two_sided_p(np.nan_to_num(z)), np.nan)
    inputs = (est1, se1, est2, se2)
    return ZTestResult(_out(z, inputs), _out(p, inputs))


def benjamini_hochberg(p: Any) -> Any:
    """Benjamini-Hochberg adjusted p-values (R ``p.adjust(p, "BH")``), NaN-safe.

    Parameters
    ----------
    p : array-like of float
        One-dimensional p-values in [0, 1]; NaNs are left as NaN and not counted in ``m``.

    Returns
    -------
    numpy.ndarray or pandas.Series
        For the ``m`` non-missing p-values sorted decreasingly, ``p_(i)`` of rank ``i``
        becomes ``min(1, min_{j >= i} m/j * p_(j))``; returned in the input order (and
        index for a Series).

    Raises
    ------
    ValueError
        Values outside [0, 1], non-numeric or multi-dimensional input.

    References
    ----------
    Benjamini and Hochberg (1995); R ``stats::p.adjust``.
    """
    arr = float_array(p, "p")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError("p must be one-dimensional")
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError("p-values must be between 0 and 1")
    out = np.full(arr.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(arr))
    m = valid.shape[0]
    if m:
        pv = arr[valid]
        order = np.argsort(-pv, kind="stable")
        ranks = np.arange(m, 0, -1, dtype=float)
        adjusted = np.minimum.accumulate(m / ranks * pv[order])
        res = np.empty(m)
        res[order] = np.minimum(adjusted, 1.0)
        out[valid] = res
    if isinstance(p, pd.Series):
        return pd.Series(out, index=p.index, name=p.name)
    return out


MDC_MULTIPLIER = 1.959964 + 0.841621


def minimum_detectable_change(se1: Any, se2: Any, alpha: float = 0.05, power: float = 0.80) -> Any:
    """Minimum detectable change between two independent estimates.

    Parameters
    ----------
    se1, se2 : array-like
        Standard errors of the two estimates.
    alpha : float
        Two-sided significance level (default 0.05).
    power : float
        Power (default 0.80).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        ``(z_{1-alpha/2} + z_{power}) * sqrt(se1**2 + se2**2)``; with the defaults
        ``(1.959964 + 0.841621) * sqrt(se1**2 + se2**2)``.

    Raises
    ------
    ValueError
        Negative standard errors or ``alpha``/``power`` outside (0, 1).

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.
    """
    if not (0 < alpha < 1) or not (0 < power < 1):
        raise ValueError("alpha and power must be between 0 and 1")
    s1, s2 = _broadcast(("se1", "se2"), se1, se2)
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise ValueError("standard errors must be non-negative")
    if (alpha, power) == (0.05, 0.80):
        k = MDC_MULTIPLIER  # the methodology states the multiplier with these rounded quantiles
    else:
        k = float(special.ndtri(1 - alpha / 2) + special.ndtri(power))
    return _out(k * np.sqrt(s1 * s1 + s2 * s2), (se1, se2))


def cochran_armitage(x: Any, n: Any, scores: Any = None) -> TrendTestResult:
    """Cochran-Armitage chi-squared test for a linear trend in proportions.

    Equals R ``prop.trend.test(x, n, score)``: the regression sum of squares of
    ``x/n`` on ``score`` in a weighted least-squares fit with weights
    ``n / (pbar (1 - pbar))``, ``pbar = sum(x)/sum(n)``.

    Parameters
    ----------
    x : array-like
        Positives per occasion (wave) along the last axis; a 2-D array tests each row
        separately. Fractional values are allowed (weighted: ``p_hat * Kish n``).
    n : array-like
        Sizes, same shape as ``x``. Occasions with ``n == 0`` or NaN ``x``/``n`` are
        left out.
    scores : array-like, optional
        Score of each occasion (default ``1..K``).

    Returns
    -------
    TrendTestResult
        ``chi2 = (sum w (s - sbar)(f - fbar))**2 / sum w (s - sbar)**2`` with
        ``f = x/n``, ``w = n/(pbar(1-pbar))`` and weighted means ``sbar``, ``fbar``;
        ``p = P(chi2_1 > chi2)``. Scalars for 1-D input, arrays (one per row) for 2-D.
        NaN when fewer than two occasions with distinct scores remain or ``pbar`` is 0
        or 1.

    Raises
    ------
    ValueError
        Shape mismatch, negative values, ``x > n``.

    References
    ----------
    Armitage (1955); R ``stats::prop.trend.test``.
    """
    xa = float_array(x, "x")
    na = float_array(n, "n")
    if xa.shape != na.shape or xa.ndim not in (1, 2):
        raise ValueError("x and n must have the same 1-D or 2-D shape")
    k = xa.shape[-1]
    if scores is None:
        sc = np.arange(1, k + 1, dtype=float)
    else:
        sc = float_array(scores, "scores")
        if sc.shape != (k,) or np.isnan(sc).any():
            raise ValueError(f"scores must be {k} numbers, one per occasion")
    if np.any(xa < 0) or np.any(na < 0):
        raise ValueError("x and n must be non-negative")
    if np.any(xa > na * (1 + 1e-12)):
        raise ValueError("x must not exceed n")
    x2 = np.atleast_2d(xa)
    n2 = np.atleast_2d(na)
    use = ~np.isnan(x2) & ~np.isnan(n2) & (n2 > 0)
    xs = np.where(use, x2, 0.0)
    ns = np.where(use, n2, 0.0)
    tot_n = ns.sum(axis=1)
    tot_x = xs.sum(axis=1)
    ok = tot_n > 0
    pbar = np.where(ok, tot_x / np.where(ok, tot_n, 1.0), np.nan)
    ok &= (pbar > 0) & (pbar < 1)
    scale = np.where(ok, pbar * (1 - pbar), 1.0)
    wts = ns / scale[:, None]
    f = np.where(use, xs / np.where(use, ns, 1.0), 0.0)
    sw = wts.sum(axis=1)
    sws = np.where(sw > 0, sw, 1.0)
    sbar = (wts * sc).sum(axis=1) / sws
    fbar = (wts * f).sum(axis=1) / sws
    sxx = (wts * (sc - sbar[:, None]) ** 2).sum(axis=1)
    sxy = (wts * (sc - sbar[:, None]) * (f - fbar[:, None])).sum(axis=1)
    # need at least two occasions with distinct scores
    ok &= sxx > 1e-12 * np.maximum(sw, 1e-300) * max(np.ptp(sc), 1.0) ** 2
    chi2 = np.where(ok, sxy * sxy / np.where(ok, sxx, 1.0), np.nan)
    p = np.where(ok, special.chdtrc(1, np.nan_to_num(chi2)), np.nan)
    if xa.ndim == 1:
        return TrendTestResult(float(chi2[0]), float(p[0]))
    if isinstance(x, pd.DataFrame):
        return TrendTestResult(pd.Series(chi2, index=x.index), pd.Series(p, index=x.index))
    return TrendTestResult(chi2, p)
