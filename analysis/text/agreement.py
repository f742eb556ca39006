"""Agreement between coders: Cohen's kappa (two coders) and Krippendorff's alpha (nominal).

Kappa is scikit-learn's ``cohen_kappa_score``; alpha is the ``krippendorff`` package (both
well kept and tested against the published examples in ``tests/analysis/test_text.py``).
For theme coding each (comment, theme) pair is a yes/no decision: per theme, the decisions on
the comments both coders coded; overall, every theme's decisions pooled. A statistic is NaN
where it is undefined (fewer than two comments, or every decision the same value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import krippendorff
import numpy as np
import pandas as pd

AGREEMENT_COLUMNS = ["theme", "n_comments", "agreement", "kappa", "alpha"]


def cohen_kappa(coder_a: Sequence | np.ndarray, coder_b: Sequence | np.ndarray) -> float:
    """Cohen's kappa of two coders' labels for the same units (NaN if undefined)."""
    a, b = np.asarray(coder_a), np.asarray(coder_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("both coders must code the same units (one label each)")
    if len(a) < 2 or len(set(a.tolist()) | set(b.tolist())) < 2:
        return float("nan")
    if a.dtype.kind not in "biu" or b.dtype.kind not in "biu":
        a, b = a.astype(str), b.astype(str)
    # Imported here: scikit-learn (and scipy.stats with it) takes seconds to import, and the
    # web app imports this module at start-up for the agreement page alone.
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))


def krippendorff_alpha(
    reliability_data, level: Literal["nominal", "ordinal", "interval", "ratio"] = "nominal"
) -> float:
    """Krippendorff's alpha of a coders x units matrix (NaN = not coded); NaN if undefined."""
    data = np.asarray(reliability_data, dtype=float)
    values = np.unique(data[~np.isnan(data)])
    pairable = (np.sum(~np.isnan(data), axis=0) >= 2).sum()
    if len(values) < 2 or pairable < 1:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def codes_matrix(codes: Mapping[str, Iterable[str]], themes: Sequence[str]) -> pd.DataFrame:
    """``{comment id: [theme ids]}`` as a boolean comments x themes table."""
    unknown = sorted({t for ts in codes.values() for t in ts} - set(themes))
    if unknown:
        raise ValueError(f"unknown theme(s): {', '.join(unknown)}")
    ids = list(codes)
    return pd.DataFrame(
        {t: [t in set(codes[c]) for c in ids] for t in themes},
        index=pd.Index(ids, name="comment"),
        dtype=bool,
    )


def theme_agreement(coder_a: pd.DataFrame, coder_b: pd.DataFrame) -> pd.DataFrame:
    """Per-theme and overall agreement of two coders' boolean comments x themes tables.

    Only comments (index) both coded and themes (columns) both used are compared. Columns:
    theme (``overall`` for the pooled row), n_comments, agreement (share of equal decisions),
    kappa, alpha (nominal).
    """
    comments = coder_a.index.intersection(coder_b.index)
    themes = [t for t in coder_a.columns if t in coder_b.columns]
    a = coder_a.loc[comments, themes].astype(bool).to_numpy().astype(int)
    b = coder_b.loc[comments, themes].astype(bool).to_numpy().astype(int)
    rows = []
    for j, theme in enumerate(themes):
        rows.append(_row(theme, a[:, j], b[:, j], len(comments)))
    rows.append(_row("overall", a.ravel(order="F"), b.ravel(order="F"), len(comments)))
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _row(theme: str, a: np.ndarray, b: np.ndarray, n_comments: int) -> dict:
    return {
        "theme": theme,
        "n_comments": n_comments,
        "agreement": float(np.mean(a == b)) if len(a) else float("nan"),
        "kappa": cohen_kappa(a, b),
        "alpha": krippendorff_alpha(np.vstack([a, b]).astype(float)),
    }
