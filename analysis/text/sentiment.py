"""VADER sentiment per comment, a secondary signal beside the themes.

``vaderSentiment`` reads its lexicon from files inside the installed package; nothing is
downloaded (tested by blocking sockets while scoring). The compound score runs from -1 (most
negative) to +1 (most positive); blanks score NaN. Redaction placeholders are neutral words.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def compound_score(text: str) -> float:
    """VADER's compound score of one comment (NaN if blank)."""
    if not isinstance(text, str) or not text.strip():
        return float("nan")
    return float(_analyzer().polarity_scores(text)["compound"])


def sentiment(comments: pd.Series | Iterable[str]) -> pd.Series:
    """Compound score per comment (same index); identical comments are scored once."""
    series = (
        comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)
    )
    present = series.notna() & series.astype(str).str.strip().ne("")
    out = pd.Series(np.nan, index=series.index, dtype=float)
    if present.any():
        text = series[present].astype(str)
        scores = {t: compound_score(t) for t in pd.unique(text)}
        out[present] = text.map(scores).to_numpy(dtype=float)
    return out
