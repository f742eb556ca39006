"""Tests for analysis.scoring (golden section 5 and scoring conventions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.scoring import is_positive, item_score, respondent_mean

REL = 1e-6


def test_golden_mean_score():
    positions = np.repeat([1, 2, 3, 4, 5], [3, 4, 0, 5, 7])
    scores = item_score(positions, 5)
    assert np.mean(scores) == pytest.approx(61.8421053, rel=REL)


def test_five_point_scores_and_reverse():
    np.testing.assert_allclose(item_score([1, 2, 3, 4, 5], 5), [0, 25, 50, 75, 100])
    np.testing.assert_allclose(item_score([1, 2, 3, 4, 5], 5, reverse=True), [100, 75, 50, 25, 0])
    np.testing.assert_allclose(item_score([1, 2, 3], 3), [0, 50, 100])
    assert item_score(4, 7) == pytest.approx(50.0)
    assert isinstance(item_score(4, 7), float)


def test_reverse_can_vary_per_element():
    out = item_score([1, 1, np.nan], 5, reverse=np.array([False, True, True]))
    np.testing.assert_allclose(out, [0, 100, np.nan])


def test_missing_and_series_index():
    s = pd.Series([5, None, 2], index=["r1", "r2", "r3"], name="Q1", dtype="Float64")
    out = item_score(s, 5)
    assert list(out.index) == ["r1", "r2", "r3"] and out.name == "Q1"
    assert out["r1"] == 100 and np.isnan(out["r2"]) and out["r3"] == 25
    pos = is_positive(s, {4, 5}, 5)
    assert pos.tolist()[0] == 1.0 and np.isnan(pos["r2"]) and pos["r3"] == 0.0


def test_is_positive_normal_and_reverse_mirrored():
    positions = [1, 2, 3, 4, 5, np.nan]
    np.testing.assert_array_equal(is_positive(positions, [4, 5], 5), [0, 0, 0, 1, 1, np.nan])
    # reverse: positions 1 and 2 mirror to 5 and 4
    np.testing.assert_array_equal(
        is_positive(positions, [4, 5], 5, reverse=True), [1, 1, 0, 0, 0, np.nan]
    )
    # share positive of the golden distribution: (5 + 7) / 19
    golden = np.repeat([1, 2, 3, 4, 5], [3, 4, 0, 5, 7])
    assert np.mean(is_positive(golden, {4, 5}, 5)) == pytest.approx(12 / 19)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: item_score([0, 1], 5), "whole numbers"),
        (lambda: item_score([6], 5), "whole numbers"),
        (lambda: item_score([2.5], 5), "whole numbers"),
        (lambda: item_score([1], 1), "at least 2"),
        (lambda: item_score([1], 4.0), "integer"),
        (lambda: item_score(["a"], 5), "numeric"),
        (lambda: item_score([1, 2], 5, reverse="yes"), "boolean"),
        (lambda: item_score([1, 2], 5, reverse=[True, False, True]), "shape"),
        (lambda: is_positive([1], [6], 5), "positions 1..5"),
        (lambda: is_positive([1], [], 5), "non-empty"),
        (lambda: is_positive([1], ["x"], 5), "integers"),
        (lambda: respondent_mean([1, 2]), "2-D"),
        (lambda: respondent_mean(pd.DataFrame({"a": ["x"]})), "numeric"),
        (lambda: respondent_mean(np.ones((2, 2)), min_share=2), "min_share"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_respondent_mean_requires_half_answered():
    frame = pd.DataFrame(
        {
            "a": [100, np.nan, np.nan, 0],
            "b": [50, 50, np.nan, np.nan],
            "c": [0, np.nan, np.nan, np.nan],
            "d": [np.nan, 25, np.nan, np.nan],
        },
        index=["x", "y", "z", "w"],
    )
    out = respondent_mean(frame)
    assert list(out.index) == ["x", "y", "z", "w"]
    assert out["x"] == pytest.approx(50.0)
    assert out["y"] == pytest.approx(37.5)
    assert np.isnan(out["z"])
    assert np.isnan(out["w"])  # 1 of 4 answered < half
    np.testing.assert_allclose(
        respondent_mean(frame.to_numpy(), min_share=0.25), [50, 37.5, np.nan, 0]
    )


@settings(deadline=None, database=None, max_examples=100)
@given(k=st.integers(2, 11), data=st.data())
def test_reverse_mirrors_score_and_positivity(k, data):
    positions = np.array(
        data.draw(st.lists(st.integers(1, k), min_size=1, max_size=30)), dtype=float
    )
    positive = data.draw(st.sets(st.integers(1, k), min_size=1))
    mirrored = k + 1 - positions
    np.testing.assert_allclose(item_score(positions, k, reverse=True), item_score(mirrored, k))
    np.testing.assert_array_equal(
        is_positive(positions, positive, k, reverse=True), is_positive(mirrored, positive, k)
    )
    scores = item_score(positions, k)
    assert np.all((scores >= 0) & (scores <= 100))
