"""How precisely the app shows a figure, on every page and in every download, for every role.

Issue 14 section 4: percentages, confidence limits, changes and minimum detectable changes
are shown as whole numbers, standard errors to one decimal and p-values to three, so that
two downloads a few responses apart do not give away the answers that moved them. Statuses
(RAG, significance) and tests are computed from the unrounded values before this; the CLI and
the stored results keep full precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

# column -> decimals, for the analysis tables' columns (analysis.pipeline) and the app's own
DECIMALS: dict[str, int] = {
    **dict.fromkeys(
        (
            "estimate",
            "ci_low",
            "ci_high",
            "mean_score",
            "estimate_from",
            "estimate_to",
            "change",
            "mdc",
            "share",
            "latest",
            "trajectory",
            "rest_estimate",
            "difference",
            # key drivers: shares of R^2 and 0-100 scores, whole as the outcome pages show them
            "importance",
            "item_score",
        ),
        0,
    ),
    "n": 0,  # a count: 13, not 13.0
    **dict.fromkeys(("se", "se_difference"), 1),
    **dict.fromkeys(("p_value", "p_adj"), 3),
    # a test statistic to full precision would give the p-value (and more) back
    "statistic": 2,
    # reliability coefficients as the indices page shows them
    **dict.fromkeys(("alpha", "alpha_low", "alpha_high"), 2),
    "r2": 2,  # as the driver views show it
}


def rounded(value: float | None, decimals: int = 0) -> float | None:
    """``value`` rounded as the pages' ``'%.0f'`` formats round it (to the nearest, ties to
    even), so a page and its download never disagree; None, NaN and pandas' NA (a figure
    already rounded into a nullable integer column) stay None."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), decimals)


def _round_series(series: pd.Series, decimals: int) -> pd.Series:
    out = pd.to_numeric(series).map(lambda v: rounded(v, decimals)).astype(float)
    return out.astype("Int64") if decimals == 0 else out  # 57, not 57.0


def for_display(frame: pd.DataFrame, whole: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every figure at its shown precision: the columns named in
    :data:`DECIMALS`, and the columns in ``whole`` (e.g. one per wave of a wide table of
    percentages) as whole numbers."""
    out = frame.copy()
    for column in out.columns:
        decimals = 0 if column in set(whole) else DECIMALS.get(str(column))
        if decimals is not None and pd.api.types.is_numeric_dtype(
            out[column].dropna().infer_objects()
        ):
            out[column] = _round_series(out[column], decimals)
    return out
