"""Internal-consistency reliability: Cronbach's alpha with Feldt's confidence interval.

References
----------
Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
*Psychometrika* 16, 297-334.
Feldt, L. S. (1965). The approximate sampling distribution of Kuder-Richardson reliability
coefficient twenty. *Psychometrika* 30, 357-370.
Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference for
coefficient alpha. *Applied Psychological Measurement* 11, 93-103.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["AlphaResult", "cronbach_alpha"]


class AlphaResult(NamedTuple):
    """Cronbach's alpha, the numbers of items and complete respondents, and the Feldt CI."""

    alpha: float
    k: int
    n: int
    ci_low: float
    ci_high: float


def _numeric_matrix(items: Any) -> np.ndarray:
    if isinstance(items, pd.DataFrame):
        for col in items.columns:
            dtype = items[col].dtype
            if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)):
                if dtype == np.dtype(object):
                    try:
                        pd.to_numeric(items[col], errors="raise")
                        continue
                    except (TypeError, ValueError):
                        pass
                raise ValueError(f"item column {col!r} is not numeric (dtype {dtype})")
        return items.apply(pd.to_numeric).to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(items, np.ndarray):
        if items.ndim != 2:
            raise ValueError(
                f"items must be two-dimensional (respondents x items), got {items.ndim}-D"
            )
        if items.dtype.kind not in "iuf":
            raise ValueError(f"items must be numeric, got dtype {items.dtype}")
        return items.astype("float64")
    raise ValueError("items must be a pandas DataFrame or a 2-D numpy array (respondents x items)")


def cronbach_alpha(items: Any, level: float = 0.95) -> AlphaResult:
    """Cronbach's alpha (listwise deletion) with Feldt's confidence interval.

    Parameters
    ----------
    items : pandas.DataFrame or 2-D numpy.ndarray
        Respondents in rows, items in columns, numeric scores (NaN = missing answer).
        Respondents with any missing item are dropped (listwise deletion).
    level : float
        Confidence level of the interval (default 0.95).

    Returns
    -------
    AlphaResult
        ``alpha = k/(k-1) * (1 - sum_j s_j**2 / s_T**2)`` with ``s_j**2`` the item
        variances and ``s_T**2`` the variance of the total score (both ``ddof=1``), on
        the ``n`` complete respondents. The Feldt interval is
        ``low = 1 - (1 - alpha) F_{1-a/2}(n-1, (n-1)(k-1))`` and
        ``high = 1 - (1 - alpha) F_{a/2}(n-1, (n-1)(k-1))`` with ``a = 1 - level``.

        Degenerate cases return NaN for ``alpha`` and the interval, without an
        exception or warning: fewer than 2 items, fewer than 2 complete respondents, or
        zero variance of the total score. ``k`` and ``n`` are always reported.

    Raises
    ------
    ValueError
        ``items`` is not a DataFrame/2-D array, has non-numeric columns or infinite
        values, or ``level`` is not in (0, 1).

    References
    ----------
    Cronbach (1951); Feldt (1965); Feldt, Woodruff and Salih (1987).
    """
    if not (0 < level < 1):
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    x = _numeric_matrix(items)
    if np.isinf(x).any():
        raise ValueError("items contain infinite values")
    k = int(x.shape[1])
    complete = x[~np.isnan(x).any(axis=1)] if x.shape[0] else x
    n = int(complete.shape[0])
    nan = float("nan")
    if k < 2 or n < 2:
        return AlphaResult(nan, k, n, nan, nan)
    item_var = complete.var(axis=0, ddof=1)
    total_var = complete.sum(axis=1).var(ddof=1)
    if not total_var > 1e-12 * max(float(np.max(np.abs(complete))) ** 2, 1.0):
        return AlphaResult(nan, k, n, nan, nan)
    alpha = k / (k - 1) * (1.0 - item_var.sum() / total_var)
    df1 = n - 1
    df2 = (n - 1) * (k - 1)
    a = 1.0 - level
    low = 1.0 - (1.0 - alpha) * special.fdtri(df1, df2, 1 - a / 2)
    high = 1.0 - (1.0 - alpha) * special.fdtri(df1, df2, a / 2)
    return AlphaResult(float(alpha), k, n, float(low), float(high))
