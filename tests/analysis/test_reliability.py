"""Tests for analysis.reliability.cronbach_alpha (golden section 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.reliability import AlphaResult, cronbach_alpha
from tests.conftest import GOLDEN_DIR as GOLDEN

REL = 1e-6


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "alpha_items.csv").drop(columns="respondent")


def test_golden_alpha_and_feldt_ci(items):
    res = cronbach_alpha(items)
    assert isinstance(res, AlphaResult)
    assert res.k == 5
    assert res.n == 38
    assert res.alpha == pytest.approx(0.8040965175, rel=REL)
    assert res.ci_low == pytest.approx(0.6847976575, rel=REL)
    assert res.ci_high == pytest.approx(0.8876299965, rel=REL)


def test_numpy_input_matches_dataframe(items):
    assert cronbach_alpha(items.to_numpy()) == cronbach_alpha(items)


def _alpha_from_covariance(x: np.ndarray) -> float:
    cov = np.cov(x, rowvar=False, ddof=1)
    k = x.shape[1]
    return k / (k - 1) * (1 - np.trace(cov) / cov.sum())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_covariance_formula_and_feldt(seed):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(80, 1))
    x = np.clip(np.round(3 + latent + rng.normal(scale=1.0, size=(80, 6))), 1, 5)
    res = cronbach_alpha(x, level=0.9)
    assert res.alpha == pytest.approx(_alpha_from_covariance(x), rel=1e-12)
    df1, df2 = 79, 79 * 5
    assert res.ci_low == pytest.approx(1 - (1 - res.alpha) * stats.f.ppf(0.95, df1, df2), rel=1e-12)
    assert res.ci_high == pytest.approx(
        1 - (1 - res.alpha) * stats.f.ppf(0.05, df1, df2), rel=1e-12
    )
    assert res.ci_low < res.alpha < res.ci_high


def test_listwise_deletion():
    frame = pd.DataFrame({"a": [1, 2, 3, 4, np.nan], "b": [2, 2, 4, 5, 1], "c": [1, 3, 3, 5, 2]})
    assert cronbach_alpha(frame) == cronbach_alpha(frame.dropna())
    assert cronbach_alpha(frame).n == 4


@pytest.mark.parametrize(
    "frame, k, n",
    [
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), 1, 3),  # one item
        (pd.DataFrame({"a": [1.0, np.nan], "b": [2.0, 3.0]}), 2, 1),  # one complete respondent
        (pd.DataFrame({"a": [3.0, 3.0, 3.0], "b": [2.0, 2.0, 2.0]}), 2, 3),  # zero variance
        (pd.DataFrame({"a": [1.0, 3.0], "b": [3.0, 1.0]}), 2, 2),  # total variance zero
        (pd.DataFrame({"a": [], "b": []}, dtype=float), 2, 0),  # no rows
        (pd.DataFrame(index=range(3)), 0, 3),  # no items
    ],
)
def test_degenerate_cases_return_nan_without_warning(frame, k, n):
    res = cronbach_alpha(frame)
    assert np.isnan(res.alpha) and np.isnan(res.ci_low) and np.isnan(res.ci_high)
    assert res.k == k
    assert res.n == n


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[1, 2], [3, 4]], "DataFrame or a 2-D"),
        (np.array([1.0, 2.0]), "two-dimensional"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
        (pd.DataFrame({"a": ["x", "y"], "b": [1, 2]}), "not numeric"),
        (pd.DataFrame({"a": [1.0, np.inf], "b": [1, 2]}), "infinite"),
        ("items", "DataFrame or a 2-D"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        cronbach_alpha(bad)


def test_bad_level(items):
    with pytest.raises(ValueError, match="level"):
        cronbach_alpha(items, level=0)


def test_object_columns_with_numbers_are_accepted():
    frame = pd.DataFrame({"a": pd.Series([1, 2, 3], dtype=object), "b": [2.0, 2.5, 3.5]})
    assert cronbach_alpha(frame).alpha == pytest.approx(cronbach_alpha(frame.astype(float)).alpha)


@settings(deadline=None, database=None, max_examples=50)
@given(seed=st.integers(0, 2**32 - 1))
def test_permuting_rows_and_columns_changes_nothing(items, seed):
    rng = np.random.default_rng(seed)
    shuffled = items.iloc[rng.permutation(len(items)), rng.permutation(items.shape[1])]
    res = cronbach_alpha(shuffled)
    base = cronbach_alpha(items)
    assert res.n == base.n and res.k == base.k
    assert res.alpha == pytest.approx(base.alpha, rel=1e-10)
    assert res.ci_low == pytest.approx(base.ci_low, rel=1e-10)
