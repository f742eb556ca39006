"""Tests for analysis.weighting.rake against R survey::rake golden values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.estimators import kish_effective_n, weighted_mean
from analysis.weighting import rake, raked_weighted_mean
from tests.conftest import GOLDEN_DIR as GOLDEN

REL = 1e-6
MARGINS = {"stype": {"E": 4421, "H": 755, "M": 1018}, "sch.wide": {"No": 1072, "Yes": 5122}}


@pytest.fixture(scope="module")
def apistrat() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "apistrat.csv")


@pytest.fixture(scope="module")
def raked(apistrat) -> pd.Series:
    return rake(apistrat, MARGINS, weights=apistrat["pw"], epsilon=1e-10)


def test_golden_raked_weights(apistrat, raked):
    assert isinstance(raked, pd.Series)
    assert raked.index.equals(apistrat.index)
    assert raked.sum() == pytest.approx(6194, rel=REL)
    assert raked.min() == pytest.approx(15.04027773, rel=REL)
    assert raked.max() == pytest.approx(44.54256603, rel=REL)
    assert kish_effective_n(raked) == pytest.approx(168.580156, rel=REL)


def test_golden_estimates_on_raked_weights(apistrat, raked):
    mean_api, _ = weighted_mean(apistrat["api00"], raked)
    assert mean_api == pytest.approx(662.2116504, rel=REL)
    hi = (apistrat["api00"] > 700).astype(float)
    p, se = weighted_mean(hi, raked)
    assert p == pytest.approx(0.4041777917, rel=REL)
    assert se == pytest.approx(0.03830297017, rel=REL)


def test_golden_calibration_aware_se(apistrat, raked):
    hi = (apistrat["api00"] > 700).astype(float)
    p, se = raked_weighted_mean(hi, apistrat, list(MARGINS), raked)
    assert p == pytest.approx(0.4041777917, rel=REL)
    assert se == pytest.approx(0.03766449482, rel=REL)


def test_raked_weights_hit_every_margin(apistrat, raked):
    for var, margin in MARGINS.items():
        totals = raked.groupby(apistrat[var]).sum()
        for cat, total in margin.items():
            assert totals[cat] == pytest.approx(total, rel=1e-9)


def test_r_default_maxit_is_enough_for_golden(apistrat, raked):
    again = rake(apistrat, MARGINS, weights=apistrat["pw"], max_iter=10)
    np.testing.assert_allclose(again, raked, rtol=1e-12)
    with pytest.raises(ValueError, match="did not converge"):
        rake(apistrat, MARGINS, weights=apistrat["pw"], max_iter=3)


def test_unweighted_start_and_custom_index():
    frame = pd.DataFrame(
        {"sex": ["f", "m", "m", "f", "m", "f"], "age": ["y", "y", "o", "o", "o", "y"]},
        index=[f"r{i}" for i in range(6)],
    )
    margins = {"sex": {"f": 50, "m": 50}, "age": {"y": 40, "o": 60}}
    w = rake(frame, margins)
    assert list(w.index) == list(frame.index)
    assert w.groupby(frame["sex"]).sum().to_dict() == pytest.approx({"f": 50, "m": 50})
    assert w.groupby(frame["age"]).sum().to_dict() == pytest.approx({"y": 40, "o": 60})


def test_single_margin_is_poststratification():
    frame = pd.DataFrame({"ward": ["a", "a", "b", "b", "b"]})
    w = rake(frame, {"ward": {"a": 10, "b": 30}}, weights=[1, 3, 1, 1, 2])
    np.testing.assert_allclose(w, [2.5, 7.5, 7.5, 7.5, 15.0])


def test_zero_total_category_without_respondents_is_ignored():
    frame = pd.DataFrame({"ward": ["a", "b"]})
    w = rake(frame, {"ward": {"a": 1, "b": 3, "c": 0}})
    np.testing.assert_allclose(w, [1, 3])


@pytest.mark.parametrize("blank", [np.nan, None, "", "  "])
def test_blank_raking_value_names_rows(blank):
    frame = pd.DataFrame({"sex": ["f", blank, "m"]}, index=["r1", "r2", "r3"])
    with pytest.raises(ValueError, match=r"'r2'") as info:
        rake(frame, {"sex": {"f": 1, "m": 1}})
    assert "'r1'" not in str(info.value)


def test_unknown_category_names_rows_and_value():
    frame = pd.DataFrame({"sex": ["f", "x", "m", "x"]}, index=[11, 12, 13, 14])
    with pytest.raises(ValueError, match=r"'x'.*12, 14"):
        rake(frame, {"sex": {"f": 1, "m": 1}})


def test_margin_category_without_respondents():
    frame = pd.DataFrame({"sex": ["f", "f"]})
    with pytest.raises(ValueError, match=r"'m'.*no respondents"):
        rake(frame, {"sex": {"f": 1, "m": 1}})


def test_respondents_in_zero_total_category():
    frame = pd.DataFrame({"sex": ["f", "m"]})
    with pytest.raises(ValueError, match="zero population total"):
        rake(frame, {"sex": {"f": 1, "m": 0}})


def test_inconsistent_grand_totals():
    frame = pd.DataFrame({"sex": ["f", "m"], "age": ["y", "o"]})
    with pytest.raises(ValueError, match="grand totals"):
        rake(frame, {"sex": {"f": 1, "m": 1}, "age": {"y": 1, "o": 5}})


def test_non_convergence_raises():
    # structural zeros: no (f, o) or (m, y) respondents, so margins cannot all be met
    frame = pd.DataFrame({"sex": ["f", "m"], "age": ["y", "o"]})
    with pytest.raises(ValueError, match="did not converge"):
        rake(frame, {"sex": {"f": 1, "m": 1}, "age": {"y": 1.5, "o": 0.5}}, max_iter=50)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((2, 2)), MARGINS), "DataFrame"),
        ((pd.DataFrame({"a": [1]}), {}), "non-empty"),
        ((pd.DataFrame({"a": [1]}), {"b": {1: 1}}), "not a column"),
        ((pd.DataFrame({"a": [1]}), {"a": {1: -1}}), "non-negative"),
        ((pd.DataFrame({"a": [1]}), {"a": {1: "x"}}), "numbers"),
        ((pd.DataFrame({"a": [1]}), {"a": []}), "mapping"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        rake(*args)


def test_bad_weights():
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match="negative"):
        rake(frame, {"a": {1: 1, 2: 1}}, weights=[1, -1])
    with pytest.raises(ValueError, match="length"):
        rake(frame, {"a": {1: 1, 2: 1}}, weights=[1])


def test_numeric_categories_and_series_margin():
    frame = pd.DataFrame({"ward": [1, 2, 2, 3]})
    w = rake(frame, {"ward": pd.Series({1: 2.0, 2: 4.0, 3: 1.0})})
    np.testing.assert_allclose(w, [2, 2, 2, 1])


def test_raked_weighted_mean_bad_input(apistrat, raked):
    with pytest.raises(ValueError, match="missing"):
        raked_weighted_mean([np.nan] * len(raked), apistrat, ["stype"], raked)
    with pytest.raises(ValueError, match="not a column"):
        raked_weighted_mean(apistrat["api00"], apistrat, ["nope"], raked)


@settings(deadline=None, database=None, max_examples=25)
@given(scale=st.floats(1e-3, 1e3))
def test_scaling_start_weights_changes_nothing(apistrat, raked, scale):
    w = rake(apistrat, MARGINS, weights=apistrat["pw"] * scale)
    np.testing.assert_allclose(w, raked, rtol=1e-8)


@settings(deadline=None, database=None, max_examples=25)
@given(seed=st.integers(0, 2**32 - 1))
def test_permuting_rows_changes_nothing(apistrat, raked, seed):
    perm = np.random.default_rng(seed).permutation(len(apistrat))
    shuffled = apistrat.iloc[perm]
    w = rake(shuffled, MARGINS, weights=shuffled["pw"])
    assert w.index.equals(shuffled.index)
    np.testing.assert_allclose(w.reindex(raked.index), raked, rtol=1e-8)
