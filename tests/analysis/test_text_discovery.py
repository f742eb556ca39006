"""Topic suggestions (TF-IDF + NMF) and VADER sentiment: deterministic and offline."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.text.sentiment import compound_score, sentiment
from analysis.text.topics import TOPIC_COLUMNS, suggest_topics

SAMPLE = Path(__file__).parent / "data" / "comments_sample.csv"


@pytest.fixture
def comments() -> pd.Series:
    return pd.read_csv(SAMPLE)["comment"]


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_topics_are_reproducible_with_terms_and_examples(comments, offline) -> None:
    topics = suggest_topics(comments, 6, n_terms=5, n_examples=2)
    assert list(topics.columns) == TOPIC_COLUMNS and topics["topic"].tolist() == [1, 2, 3, 4, 5, 6]
    assert all(len(t) == 5 for t in topics["top_terms"])
    assert all(1 <= len(e) <= 2 and set(e) <= set(comments) for e in topics["examples"])
    assert topics["n_comments"].sum() <= len(comments)
    again = suggest_topics(
        comments.sample(frac=1, random_state=1).reset_index(drop=True), 6, n_terms=5, n_examples=2
    )
    assert sorted(map(tuple, topics["top_terms"])) == sorted(map(tuple, again["top_terms"]))
    pd.testing.assert_frame_equal(topics, suggest_topics(comments, 6, n_terms=5, n_examples=2))


def test_topics_ignore_placeholders_and_cope_with_little_text() -> None:
    topics = suggest_topics(
        ["[email] bins bins", "[email] [phone] potholes roads", "bins roads"], 5
    )
    assert len(topics) <= 3
    assert not {"email", "phone"} & {t for terms in topics["top_terms"] for t in terms}
    assert suggest_topics([], 3).empty and suggest_topics(["the and of", "a the"], 3).empty


def test_vader_sentiment_ships_its_lexicon_and_needs_no_network(offline) -> None:
    import vaderSentiment
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    folder = Path(vaderSentiment.__file__).parent
    assert (folder / "vader_lexicon.txt").stat().st_size > 100_000
    assert SentimentIntensityAnalyzer().polarity_scores("good")["compound"] > 0  # built offline
    assert compound_score("The staff were brilliant and really helpful.") > 0.5
    assert compound_score("Awful, nobody answers and the roads are a disgrace.") < -0.3
    scores = sentiment(
        pd.Series(["Great work", None, "", "Terrible", "Great work"], index=[3, 4, 5, 6, 7])
    )
    assert list(scores.index) == [3, 4, 5, 6, 7]
    assert scores[3] > 0 > scores[6] and scores[3] == scores[7]
    assert np.isnan(scores[4]) and np.isnan(scores[5])
    assert scores.between(-1, 1).sum() == 3
