"""What people said, as figures: the stored themes table (share of commenting respondents,
Wilson interval, change and its test, sentiment) put into words for the outcome pages and the
quarterly report. Rows come from the results the user may see (viewers: published waves
only) and are already suppressed by ``analysis``; a suppressed row keeps only its reason."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from .models import AnalysisResult
from .results import table

# Results stored before the commenting-respondent columns existed show no figures at all
# rather than the old per-comment shares under the new headings.
_NEEDED = ("share_commenting", "ci_low", "ci_high", "n_commenting", "suppressed")


@dataclass(frozen=True)
class ThemeFigure:
    instrument: str
    theme: str
    label: str
    suppressed: bool
    n_commenting: int | None = None
    share: str = ""  # "42%"
    interval: str = ""  # "35% to 49%"
    change: str = ""  # "up 8 points since the previous wave, a statistically significant change"
    sentiment: str = ""  # "mostly negative (-0.41)"


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def sentiment_words(score: float | None) -> str:
    """VADER's usual cut-offs: compound >= 0.05 positive, <= -0.05 negative."""
    if score is None:
        return "no sentiment score"
    tone = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
    return f"{tone} on average ({score:+.2f})"


def change_words(change: float | None, significant) -> str:
    """The change since the instrument's previous wave and whether the test (BH-adjusted)
    found it significant."""
    if change is None:
        return "no earlier wave to compare"
    points = round(change)
    if points == 0:
        movement = "no change since the previous wave"
    else:
        movement = f"{'up' if points > 0 else 'down'} {abs(points)} points since the previous wave"
    if significant is True or significant == "true":
        return f"{movement}, a statistically significant change"
    return f"{movement}, not a statistically significant change"


def theme_figures(
    result: AnalysisResult | None,
    wave: str,
    *,
    audience: str | None = None,
    only_themes: Collection[str] | None = None,
) -> list[ThemeFigure]:
    """The whole-audience theme rows of ``wave`` (optionally one audience and some themes),
    largest share first, suppressed rows last."""
    themes = table(result, "themes")
    if themes.empty or any(c not in themes for c in _NEEDED):
        return []
    rows = themes[(themes["wave"] == wave) & themes["by"].isna()]
    if audience is not None:
        rows = rows[rows["audience"] == audience]
    if only_themes is not None:
        rows = rows[rows["theme"].isin(list(only_themes))]
    rows = rows.assign(_hidden=rows["suppressed"].astype(bool)).sort_values(
        ["instrument", "_hidden", "share_commenting"], ascending=[True, True, False]
    )
    figures = []
    for row in rows.to_dict("records"):
        if row["_hidden"]:
            figures.append(ThemeFigure(row["instrument"], row["theme"], row["label"], True))
            continue
        share, low, high = (_number(row[c]) for c in ("share_commenting", "ci_low", "ci_high"))
        change = _number(row.get("change_commenting"))
        figures.append(
            ThemeFigure(
                instrument=row["instrument"],
                theme=row["theme"],
                label=row["label"],
                suppressed=False,
                n_commenting=int(row["n_commenting"]),
                share="–" if share is None else f"{share:.0f}%",
                interval="–" if low is None or high is None else f"{low:.0f}% to {high:.0f}%",
                change=change_words(change, row.get("significant")),
                sentiment=sentiment_words(_number(row.get("sentiment_mean"))),
            )
        )
    return figures
