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
            "target",
            "baseline",
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


def _shown_number(value: float | None, decimals: int) -> float | int | None:
    """``value`` rounded, as a whole number when it is one (48 £m, not 48.0), as ``%g``
    writes it on the pages."""
    shown = rounded(value, decimals)
    return int(shown) if shown is not None and shown.is_integer() else shown


def _round_series(series: pd.Series, decimals: int) -> pd.Series:
    out = pd.to_numeric(series).map(lambda v: rounded(v, decimals)).astype(float)
    return out.astype("Int64") if decimals == 0 else out  # 57, not 57.0


#: Levels in a measure's units: whole numbers for percentages; a KPI's (a row whose ``unit``
#: is not "%") to one decimal at most, as pages say them (``analysis.rag.amount``).
LEVEL_COLUMNS = frozenset(
    ("estimate", "ci_low", "ci_high", "change", "latest", "trajectory", "target", "baseline")
)


def shown_in_unit(value: float | None, unit: str) -> float | None:
    """One level as pages show it: a whole percentage, a KPI value to one decimal at most."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return rounded(value, 0 if unit == "%" else 1)


def for_display(frame: pd.DataFrame, whole: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with every figure at its shown precision: the columns named in
    :data:`DECIMALS`, and the columns in ``whole`` (e.g. one per wave of a wide table of
    percentages) as whole numbers. In a frame with a ``unit`` column, the
    :data:`LEVEL_COLUMNS` of rows in another unit than "%" (KPIs) keep one decimal."""
    out = frame.copy()
    other_unit = (
        out["unit"].notna() & (out["unit"] != "%")
        if "unit" in out.columns
        else pd.Series(False, index=out.index)
    )
    for column in out.columns:
        decimals = 0 if column in set(whole) else DECIMALS.get(str(column))
        if decimals is None or not pd.api.types.is_numeric_dtype(
            out[column].dropna().infer_objects()
        ):
            continue
        if column in LEVEL_COLUMNS and other_unit.any():
            # mixed units: 35 for a percentage, 27.5 for a KPI (an object column keeps both)
            values = pd.to_numeric(out[column])
            out[column] = pd.Series(
                [
                    _shown_number(v, 1 if kpi else decimals)
                    for v, kpi in zip(values, other_unit, strict=True)
                ],
                index=out.index,
                dtype=object,
            )
        else:
            out[column] = _round_series(out[column], decimals)
    return out
