"""Tests for analysis.inference against R golden values, statsmodels and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from analysis.inference import (
    benjamini_hochberg,
    cochran_armitage,
    minimum_detectable_change,
    two_proportion_ztest,
    weighted_change_z,
    welch_ttest,
    welch_ttest_from_stats,
    wilson_interval,
)

REL = 1e-6


# --- golden section 3 ------------------------------------------------------------------


def test_wilson_golden():
    low, high = wilson_interval(7 / 50, 50)
    assert low == pytest.approx(0.06950833427, rel=REL)
    assert high == pytest.approx(0.2618619371, rel=REL)
    assert isinstance(low, float)


def test_two_proportion_golden():
    res = two_proportion_ztest(60, 100, 45, 100)
    assert res.z**2 == pytest.approx(4.5112782, rel=REL)
    assert abs(res.z) == pytest.approx(2.123977, rel=REL)
    assert res.p_value == pytest.approx(0.03367207, rel=REL)
    # change = to - from: 60% -> 45% is a fall
    assert res.z < 0
    assert two_proportion_ztest(45, 100, 60, 100).z > 0


def test_cochran_armitage_golden():
    res = cochran_armitage([40, 45, 55, 60], [100, 100, 100, 100])
    assert res.chi2 == pytest.approx(9.8, rel=REL)
    assert res.p_value == pytest.approx(0.001745119, rel=REL)


def test_benjamini_hochberg_golden():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
    expected = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.08457142857, 0.205]
    np.testing.assert_allclose(benjamini_hochberg(p), expected, rtol=REL)


# --- cross-checks ------------------------------------------------------------------------


def test_wilson_matches_statsmodels_vectorised():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 500, 200)
    x = rng.binomial(n, rng.uniform(0, 1, 200))
    low, high = wilson_interval(x / n, n)
    sm_low, sm_high = proportion_confint(x, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, sm_low, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(high, sm_high, rtol=1e-10, atol=1e-14)
    low90, high90 = wilson_interval(x / n, n, level=0.9)
    sm90 = proportion_confint(x, n, alpha=0.1, method="wilson")
    np.testing.assert_allclose(low90, sm90[0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(high90, sm90[1], rtol=1e-10, atol=1e-14)


def test_wilson_fractional_n_and_series_index():
    p = pd.Series([0.3, 0.5, np.nan], index=["a", "b", "c"])
    n = np.array([168.58, 0.0, 10.0])
    low, high = wilson_interval(p, n)
    assert list(low.index) == ["a", "b", "c"]
    sm_low, sm_high = proportion_confint(0.3 * 168.58, 168.58, method="wilson")
    assert low["a"] == pytest.approx(sm_low, rel=1e-10)
    assert high["a"] == pytest.approx(sm_high, rel=1e-10)
    assert np.isnan(low["b"]) and np.isnan(high["c"])


def test_two_proportion_matches_statsmodels_and_chi2():
    rng = np.random.default_rng(2)
    n1 = rng.integers(20, 400, 50)
    n2 = rng.integers(20, 400, 50)
    x1 = rng.binomial(n1, 0.4)
    x2 = rng.binomial(n2, 0.45)
    res = two_proportion_ztest(x1, n1, x2, n2)
    for i in range(50):
        z, p = proportions_ztest([x2[i], x1[i]], [n2[i], n1[i]])
        assert res.z[i] == pytest.approx(z, rel=1e-10)
        assert res.p_value[i] == pytest.approx(p, rel=1e-8)
        table = np.array([[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]])
        chi2, p_chi2, _, _ = stats.chi2_contingency(table, correction=False)
        assert res.z[i] ** 2 == pytest.approx(chi2, rel=1e-10)
        assert res.p_value[i] == pytest.approx(p_chi2, rel=1e-8)


def test_two_proportion_degenerate_is_nan():
    res = two_proportion_ztest([0, 5, 0], [10, 5, 0], [0, 5, 1], [10, 5, 4])
    assert np.isnan(res.z).all() and np.isnan(res.p_value).all()


def test_two_proportion_fractional_weighted():
    res = two_proportion_ztest(0.6 * 80.5, 80.5, 0.45 * 90.2, 90.2)
    pooled = (0.6 * 80.5 + 0.45 * 90.2) / (80.5 + 90.2)
    z = (0.45 - 0.6) / np.sqrt(pooled * (1 - pooled) * (1 / 80.5 + 1 / 90.2))
    assert res.z == pytest.approx(z, rel=1e-12)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(50, 10, rng.integers(5, 60))
    b = rng.normal(55, 20, rng.integers(5, 60))
    ref = stats.ttest_ind(b, a, equal_var=False)
    res = welch_ttest(a, b)
    assert res.t == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert res.df == pytest.approx(ref.df, rel=1e-10)
    res2 = welch_ttest_from_stats(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    assert res2.t == pytest.approx(ref.statistic, rel=1e-10)
    assert res2.p_value == pytest.approx(ref.pvalue, rel=1e-8)


def test_welch_vectorised_and_sign():
    res = welch_ttest_from_stats([10, 20], [2, 3], [30, 40], [12, 18], [2, 3], [30, 40])
    assert res.t[0] > 0 and res.t[1] < 0
    ref = stats.ttest_ind_from_stats(12, 2, 30, 10, 2, 30, equal_var=False)
    assert res.t[0] == pytest.approx(ref.statistic, rel=1e-10)
    assert res.p_value[0] == pytest.approx(ref.pvalue, rel=1e-8)


def test_welch_degenerate_is_nan():
    res = welch_ttest_from_stats([1, 1], [0, 1], [10, 1], [2, 2], [0, 1], [10, 10])
    assert np.isnan(res.t).all() and np.isnan(res.p_value).all()
    assert all(np.isnan(v) for v in welch_ttest([1.0], [1.0, 2.0, np.nan]))


def test_weighted_change_z():
    res = weighted_change_z(0.50, 0.03, 0.56, 0.04)
    assert res.z == pytest.approx(1.2, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(1.2), rel=1e-12)
    vec = weighted_change_z(
        pd.Series([0.5, 0.6], index=["x", "y"]), [0.03, 0.0], [0.44, 0.6], [0.04, 0.0]
    )
    assert vec.z["x"] == pytest.approx(-1.2)
    assert np.isnan(vec.z["y"]) and np.isnan(vec.p_value["y"])


def test_minimum_detectable_change():
    se1 = np.array([0.02, 0.05])
    se2 = np.array([0.03, 0.01])
    expected = (1.959964 + 0.841621) * np.sqrt(se1**2 + se2**2)
    np.testing.assert_allclose(minimum_detectable_change(se1, se2), expected, rtol=REL)
    assert minimum_detectable_change(0.0, 0.0) == 0.0


def test_bh_matches_statsmodels_and_is_nan_safe():
    rng = np.random.default_rng(6)
    p = rng.uniform(0, 0.2, 40) ** 2
    np.testing.assert_allclose(
        benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12
    )
    with_nan = np.concatenate([p[:10], [np.nan], p[10:], [np.nan]])
    adj = benjamini_hochberg(with_nan)
    assert np.isnan(adj[10]) and np.isnan(adj[-1])
    np.testing.assert_allclose(adj[~np.isnan(adj)], benjamini_hochberg(p), rtol=1e-12)
    s = benjamini_hochberg(pd.Series([0.01, np.nan, 0.04], index=["a", "b", "c"], name="p"))
    assert list(s.index) == ["a", "b", "c"] and s.name == "p"
    assert s["a"] == pytest.approx(0.02) and s["c"] == pytest.approx(0.04)
    assert benjamini_hochberg([]).shape == (0,)
    assert np.isnan(benjamini_hochberg([np.nan])).all()


def _ca_classic(x, n, s):
    x, n, s = map(np.asarray, (x, n, s))
    big_n = n.sum()
    pbar = x.sum() / big_n
    t = np.sum(s * (x - n * pbar))
    var = pbar * (1 - pbar) * (np.sum(n * s * s) - np.sum(n * s) ** 2 / big_n)
    return t * t / var


def test_cochran_armitage_matches_classic_formula_and_scores():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = rng.integers(10, 300, 5)
        x = rng.binomial(n, rng.uniform(0.1, 0.9))
        scores = np.sort(rng.uniform(0, 10, 5))
        res = cochran_armitage(x, n, scores)
        assert res.chi2 == pytest.approx(_ca_classic(x, n, scores), rel=1e-9)
        assert res.p_value == pytest.approx(stats.chi2.sf(res.chi2, 1), rel=1e-9)


def test_cochran_armitage_fractional_vectorised_and_missing_waves():
    x = np.array([[40, 45, 55, 60], [4.0, 4.5, 5.5, 6.0], [40, 45, np.nan, 60]])
    n = np.array([[100] * 4, [10] * 4, [100, 100, 100, 100]])
    res = cochran_armitage(x, n)
    assert res.chi2[0] == pytest.approx(9.8, rel=REL)
    assert res.chi2[1] == pytest.approx(0.98, rel=REL)  # scales with n
    expected = _ca_classic([40, 45, 60], [100, 100, 100], [1, 2, 4])
    assert res.chi2[2] == pytest.approx(expected, rel=1e-9)
    frame = pd.DataFrame(x[:2], index=["q1", "q2"])
    res_df = cochran_armitage(frame, n[:2])
    assert list(res_df.chi2.index) == ["q1", "q2"]


def test_cochran_armitage_degenerate():
    assert np.isnan(cochran_armitage([0, 0, 0], [10, 10, 10]).chi2)
    assert np.isnan(cochran_armitage([3, 0, 0], [10, 0, 0]).chi2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: wilson_interval(1.2, 10), "between 0 and 1"),
        (lambda: wilson_interval(0.5, 10, level=1.5), "level"),
        (lambda: wilson_interval("a", 10), "numeric"),
        (lambda: two_proportion_ztest(11, 10, 1, 10), "exceed"),
        (lambda: two_proportion_ztest(-1, 10, 1, 10), "non-negative"),
        (lambda: two_proportion_ztest([1, 2], [10, 10, 10], 1, 10), "shapes"),
        (lambda: welch_ttest_from_stats(1, -1, 10, 1, 1, 10), "non-negative"),
        (lambda: weighted_change_z(1, -0.1, 1, 0.1), "non-negative"),
        (lambda: benjamini_hochberg([0.5, 1.5]), "between 0 and 1"),
        (lambda: benjamini_hochberg([[0.5]]), "one-dimensional"),
        (lambda: minimum_detectable_change(-1, 1), "non-negative"),
        (lambda: cochran_armitage([1, 2], [10, 10, 10]), "same"),
        (lambda: cochran_armitage([1, 2], [10, 10], scores=[1]), "scores"),
        (lambda: cochran_armitage([11, 2], [10, 10]), "exceed"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- properties -------------------------------------------------------------------------


@settings(deadline=None, database=None, max_examples=200)
@given(p=st.floats(0, 1), n=st.floats(0.5, 1e6))
def test_wilson_contains_p(p, n):
    low, high = wilson_interval(p, n)
    assert 0 <= low <= p + 1e-12
    assert p - 1e-12 <= high <= 1


@settings(deadline=None, database=None, max_examples=200)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=50))
def test_bh_monotone_and_not_below_p(ps):
    p = np.array(ps)
    adj = benjamini_hochberg(p)
    valid = ~np.isnan(p)
    assert np.array_equal(np.isnan(adj), ~valid)
    assert np.all(adj[valid] >= p[valid] - 1e-15)
    assert np.all(adj[valid] <= 1)
    order = np.argsort(p[valid], kind="stable")
    assert np.all(np.diff(adj[valid][order]) >= -1e-15)


@settings(deadline=None, database=None, max_examples=100)
@given(
    x1=st.integers(0, 200),
    extra1=st.integers(1, 200),
    x2=st.integers(0, 200),
    extra2=st.integers(1, 200),
)
def test_two_proportion_antisymmetric(x1, extra1, x2, extra2):
    a = two_proportion_ztest(x1, x1 + extra1, x2, x2 + extra2)
    b = two_proportion_ztest(x2, x2 + extra2, x1, x1 + extra1)
    if np.isnan(a.z):
        assert np.isnan(b.z)
    else:
        assert a.z == pytest.approx(-b.z, abs=1e-12)
        assert a.p_value == pytest.approx(b.p_value, abs=1e-12)
