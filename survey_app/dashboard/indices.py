"""The confidence and culture-change indices per survey and wave, with their reliability and
change, for the indices page and its download (stored results only)."""

from __future__ import annotations

import pandas as pd

from ..definitions import current_definitions
from ..models import AnalysisResult
from ..results import table
from .figures import figures_by_wave, in_wave_order
from .scorecard import closing_dates, measures_reading, with_measure_status

_KEYS = ["instrument", "audience", "level", "id"]


def indices_table(result: AnalysisResult | None) -> pd.DataFrame:
    """Index scores in long form: one row per survey, index and wave (whole audience), with
    n, the 0-100 score and its 95% CI, Cronbach's alpha with its Feldt CI, the change into the
    wave with its p-values (Benjamini-Hochberg), minimum detectable change and significance
    (survey_app.dashboard.figures), and for an index a framework measure reads, its target,
    trajectory and status (the scorecard's rules). Suppressed figures are blank."""
    indicators, reliability = table(result, "indicators"), table(result, "reliability")
    if indicators.empty or result is None:
        return pd.DataFrame()
    rows = indicators[(indicators["level"] == "index") & indicators["by"].isna()]
    if rows.empty:
        return pd.DataFrame()
    order = list(result.wave_order)
    changes, notes = table(result, "changes"), table(result, "notes")
    rows = in_wave_order(rows, order, ["instrument", "id"])
    long = figures_by_wave(rows, changes, keep=_KEYS)
    framework, closing = current_definitions().framework, closing_dates()
    pairs = long[["instrument", "audience"]].drop_duplicates().itertuples(index=False)
    measures = [
        found
        for instrument, audience in pairs
        for found in measures_reading(framework, audience, instrument, ("index",))
    ]
    long = with_measure_status(long, measures, indicators, changes, order, notes, closing)
    long = long.rename(columns={"id": "index"}).drop(columns="level")
    if not reliability.empty:
        long = long.merge(
            reliability[["instrument", "wave", "index", "alpha", "ci_low", "ci_high"]].rename(
                columns={"ci_low": "alpha_low", "ci_high": "alpha_high"}
            ),
            on=["instrument", "wave", "index"],
            how="left",
        )
    else:
        long = long.assign(alpha=None, alpha_low=None, alpha_high=None)
    first = ["instrument", "audience", "wave", "index", "n", "estimate", "ci_low", "ci_high"]
    first += ["suppressed", "alpha", "alpha_low", "alpha_high"]
    return long[[*first, *(c for c in long.columns if c not in first)]]
