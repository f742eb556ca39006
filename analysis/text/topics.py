"""Topic suggestions to help extend the codebook: TF-IDF + NMF (scikit-learn).

Comments are vectorised with TF-IDF (English stop words, words and two-word phrases, sublinear
term frequency; placeholders such as ``[email]`` removed first) and factorised with NMF
(``init="nndsvda"``, fixed ``random_state``), so the same comments always give the same
topics. For each topic: its top terms by weight, how many comments it dominates, and the
comments that load on it most, as examples. Suggestions for an analyst, not estimates.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

TOPIC_COLUMNS = ["topic", "top_terms", "n_comments", "examples"]
_PLACEHOLDER = re.compile(r"\[(?:email|phone|postcode|url|name)\]")


def suggest_topics(
    comments: pd.Series | Iterable[str],
    n_topics: int = 8,
    *,
    n_terms: int = 8,
    n_examples: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Topics as rows: ``topic`` (1..k), ``top_terms`` (list), ``n_comments`` (comments whose
    strongest topic it is) and ``examples`` (list of comments). Fewer topics than asked when
    there are too few comments or terms; an empty table when there are none."""
    series = (
        comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)
    )
    text = series.dropna().astype(str)
    text = text[text.str.strip().ne("")]
    cleaned = text.str.replace(_PLACEHOLDER, " ", regex=True)
    if len(cleaned) < 2 or n_topics < 1:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    # Imported here, not with the module: the app imports this module when it starts (the
    # coding page's queries), and scikit-learn's import is about 2 s of every process's
    # start-up, `flask results` included, for a page few requests reach.
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        stop_words="english",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2 if len(cleaned) >= 50 else 1,
        max_df=0.95,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b",
    )
    try:
        matrix = vectorizer.fit_transform(cleaned.tolist())
    except ValueError:  # nothing but stop words
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    k = min(n_topics, matrix.shape[0], matrix.shape[1])
    model = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=1000)
    with warnings.catch_warnings():
        # a topic suggestion from a not-quite-converged factorisation is still a suggestion
        warnings.simplefilter("ignore", ConvergenceWarning)
        # with as many topics as comments the factorisation can be exact, and scikit-learn's
        # reconstruction error (sqrt of a sum that rounds to a tiny negative) warns: the
        # loadings are fine
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in sqrt", category=RuntimeWarning
        )
        loadings = model.fit_transform(matrix)
    terms = np.asarray(vectorizer.get_feature_names_out())
    strongest = loadings.argmax(axis=1)
    strongest[loadings.max(axis=1) == 0] = -1
    rows = []
    for topic in range(k):
        weights = model.components_[topic]
        top = [str(t) for t in terms[np.argsort(-weights, kind="stable")[:n_terms]]]
        order = np.argsort(-loadings[:, topic], kind="stable")[:n_examples]
        examples = [text.iloc[i] for i in order if loadings[i, topic] > 0]
        rows.append(
            {
                "topic": topic + 1,
                "top_terms": top,
                "n_comments": int((strongest == topic).sum()),
                "examples": examples,
            }
        )
    return pd.DataFrame(rows, columns=TOPIC_COLUMNS)
