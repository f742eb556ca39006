"""Tests for analysis.estimators against R survey golden values and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.weightstats import DescrStatsW

from analysis.estimators import domain_means, grouped_means, kish_effective_n, weighted_mean
from tests.conftest import GOLDEN_DIR as GOLDEN

REL = 1e-6


@pytest.fixture(scope="module")
def apistrat() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "apistrat.csv")


@pytest.fixture(scope="module")
def apiclus1() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "apiclus1.csv")


# --- golden section 1 ------------------------------------------------------------------


def test_svymean_api00(apistrat):
    mean, se = weighted_mean(apistrat["api00"], apistrat["pw"])
    assert mean == pytest.approx(662.2873632, rel=REL)
    assert se == pytest.approx(9.585428876, rel=REL)


def test_svymean_proportion_hi(apistrat):
    hi = (apistrat["api00"] > 700).astype(float)
    mean, se = weighted_mean(hi, apistrat["pw"])
    assert mean == pytest.approx(0.4043396816, rel=REL)
    assert se == pytest.approx(0.03830602763, rel=REL)


def test_svyby_domains(apistrat):
    hi = (apistrat["api00"] > 700).astype(float)
    out = domain_means(hi, apistrat["stype"], apistrat["pw"])
    assert list(out.columns) == ["n", "mean", "se"]
    assert list(out.index) == ["E", "H", "M"]
    assert out.index.name == "stype"
    expected = {"E": (0.46, 0.04996481174), "H": (0.30, 0.06497003561), "M": (0.24, 0.06055024078)}
    for label, (mean, se) in expected.items():
        assert out.loc[label, "mean"] == pytest.approx(mean, rel=REL)
        assert out.loc[label, "se"] == pytest.approx(se, rel=REL)
    assert out["n"].tolist() == [100, 50, 50]


def test_strata_with_fpc(apistrat):
    mean, se = weighted_mean(
        apistrat["api00"], apistrat["pw"], strata=apistrat["stype"], fpc=apistrat["fpc"]
    )
    assert mean == pytest.approx(662.2873632, rel=REL)
    assert se == pytest.approx(9.408940803, rel=REL)


def test_cluster_with_and_without_fpc(apiclus1):
    mean, se = weighted_mean(
        apiclus1["api00"], apiclus1["pw"], cluster=apiclus1["dnum"], fpc=apiclus1["fpc"]
    )
    assert mean == pytest.approx(644.1693989, rel=REL)
    assert se == pytest.approx(23.54224069, rel=REL)
    _, se_nofpc = weighted_mean(apiclus1["api00"], apiclus1["pw"], cluster=apiclus1["dnum"])
    assert se_nofpc == pytest.approx(23.77901072, rel=REL)


def test_fpc_as_sampling_fraction_matches_population_size(apistrat):
    sizes = apistrat.groupby("stype")["stype"].transform("size")
    frac = sizes / apistrat["fpc"]
    a = weighted_mean(
        apistrat["api00"], apistrat["pw"], strata=apistrat["stype"], fpc=apistrat["fpc"]
    )
    b = weighted_mean(apistrat["api00"], apistrat["pw"], strata=apistrat["stype"], fpc=frac)
    assert a == pytest.approx(b, rel=1e-12)


def test_trivial_design_options_match_default(apistrat):
    hi = (apistrat["api00"] > 700).astype(float)
    base = weighted_mean(hi, apistrat["pw"])
    explicit = weighted_mean(hi, apistrat["pw"], cluster=np.arange(len(hi)))
    assert explicit == pytest.approx(base, rel=1e-12)


# --- cross-checks against statsmodels ------------------------------------------------


def _random_data(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 1.5, n)
    w = rng.uniform(0.2, 5.0, n)
    g = rng.choice(["a", "b", "c", "d"], n)
    return y, w, g


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighted_mean_matches_wls_hc1(seed):
    y, w, _ = _random_data(seed)
    mean, se = weighted_mean(y, w)
    fit = sm.WLS(y, np.ones_like(y), weights=w).fit(cov_type="HC1")
    assert mean == pytest.approx(fit.params[0], rel=1e-10)
    assert se == pytest.approx(fit.bse[0], rel=1e-10)
    assert mean == pytest.approx(DescrStatsW(y, weights=w).mean, rel=1e-10)


@pytest.mark.parametrize("seed", [4, 5])
def test_unweighted_se_is_sd_over_root_n(seed):
    y, _, _ = _random_data(seed)
    mean, se = weighted_mean(y)
    d = DescrStatsW(y)
    assert mean == pytest.approx(d.mean, rel=1e-12)
    assert se == pytest.approx(np.std(y, ddof=1) / np.sqrt(len(y)), rel=1e-10)
    assert se == pytest.approx(d.std_mean, rel=1e-10)


@pytest.mark.parametrize("seed", [6, 7])
def test_domain_se_matches_wls_hc0_on_dummies(seed):
    y, w, g = _random_data(seed)
    dummies = pd.get_dummies(g).astype(float)
    fit = sm.WLS(y, dummies.to_numpy(), weights=w).fit(cov_type="HC0")
    n = len(y)
    out = domain_means(y, g, w)
    assert out.index.name == "group"
    np.testing.assert_allclose(out["mean"].to_numpy(), fit.params, rtol=1e-10)
    np.testing.assert_allclose(out["se"].to_numpy(), fit.bse * np.sqrt(n / (n - 1)), rtol=1e-10)


# --- grouped engine --------------------------------------------------------------------


def test_grouped_by_design_equals_separate_designs():
    y, w, g = _random_data(8)
    out = grouped_means(y, w, design=pd.Series(g, name="audience"))
    assert out.index.name == "audience"
    assert list(out.columns) == ["n", "sum_w", "mean", "se", "n_eff", "design_n", "deff"]
    for label in out.index:
        mask = g == label
        mean, se = weighted_mean(y[mask], w[mask])
        assert out.loc[label, "mean"] == pytest.approx(mean, rel=1e-12)
        assert out.loc[label, "se"] == pytest.approx(se, rel=1e-12)
        assert out.loc[label, "n"] == mask.sum()
        assert out.loc[label, "design_n"] == mask.sum()
        assert out.loc[label, "n_eff"] == pytest.approx(kish_effective_n(w[mask]), rel=1e-12)
        assert out.loc[label, "sum_w"] == pytest.approx(w[mask].sum(), rel=1e-12)


def test_grouped_design_and_domain_equals_domain_means_per_design():
    rng = np.random.default_rng(9)
    n = 400
    y = rng.integers(0, 2, n).astype(float)
    w = rng.uniform(0.5, 3, n)
    frame = pd.DataFrame(
        {
            "audience": rng.choice(["residents", "staff"], n),
            "wave": rng.choice([1, 2, 3], n),
            "ward": rng.choice(["north", "south", "east"], n),
        }
    )
    out = grouped_means(y, w, design=frame[["audience", "wave"]], domain=frame["ward"])
    assert out.index.names == ["audience", "wave", "ward"]
    for (aud, wave), sub in frame.groupby(["audience", "wave"]):
        idx = sub.index.to_numpy()
        expected = domain_means(y[idx], sub["ward"], w[idx])
        got = out.loc[(aud, wave)]
        np.testing.assert_allclose(got["mean"].to_numpy(), expected["mean"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(got["se"].to_numpy(), expected["se"].to_numpy(), rtol=1e-12)
        assert (got["design_n"] == len(sub)).all()


def test_grouped_accepts_list_of_series_and_items_frame(apistrat):
    hi = (apistrat["api00"] > 700).astype(float)
    items = pd.DataFrame({"hi": hi, "api00": apistrat["api00"]})
    out = grouped_means(items, apistrat["pw"], domain=apistrat["stype"])
    assert out.index.names == ["item", "stype"]
    assert out.loc[("hi", "E"), "se"] == pytest.approx(0.04996481174, rel=REL)
    assert out.loc[("api00", "E"), "mean"] == pytest.approx(
        np.average(
            apistrat.loc[apistrat.stype == "E", "api00"],
            weights=apistrat.loc[apistrat.stype == "E", "pw"],
        )
    )
    out2 = grouped_means(hi, apistrat["pw"], design=[apistrat["stype"], apistrat["sch.wide"]])
    assert out2.index.names == ["stype", "sch.wide"]
    assert len(out2) == 6


def test_grouped_single_design_no_labels(apistrat):
    out = grouped_means(apistrat["api00"], apistrat["pw"])
    assert len(out) == 1
    assert out["se"].iloc[0] == pytest.approx(9.585428876, rel=REL)


def test_missing_exclude_drops_rows_before_design():
    y, w, _ = _random_data(10, 50)
    y_missing = y.copy()
    y_missing[::5] = np.nan
    keep = ~np.isnan(y_missing)
    assert weighted_mean(y_missing, w) == pytest.approx(weighted_mean(y[keep], w[keep]), rel=1e-12)
    out = grouped_means(y_missing, w)
    assert out["n"].iloc[0] == keep.sum() == out["design_n"].iloc[0]


def test_missing_domain_mode_is_svymean_na_rm():
    # R svymean(na.rm=TRUE) on the full design = domain estimate of the valid rows
    y, w, _ = _random_data(11, 60)
    y_missing = y.copy()
    y_missing[::4] = np.nan
    valid = pd.Series(np.where(np.isnan(y_missing), None, "valid"), name="g")
    expected = domain_means(np.nan_to_num(y_missing), valid, w)
    mean, se = weighted_mean(y_missing, w, missing="domain")
    assert mean == pytest.approx(expected.loc["valid", "mean"], rel=1e-12)
    assert se == pytest.approx(expected.loc["valid", "se"], rel=1e-12)
    # the cluster/strata code path agrees
    _, se2 = weighted_mean(y_missing, w, cluster=np.arange(len(y)), missing="domain")
    assert se2 == pytest.approx(se, rel=1e-12)


def test_domain_rows_with_missing_label_stay_in_design():
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    g = pd.Series(["a", "a", "b", "b", None, None], name="grp")
    out = domain_means(y, g)
    assert list(out.index) == ["a", "b"]
    n = 6
    # domain a: mean .5; z = (.5, -.5, 0, ...)/2
    assert out.loc["a", "se"] == pytest.approx(np.sqrt(n / (n - 1) * (0.25 + 0.25) / 4))


def test_kish_effective_n(apistrat):
    assert kish_effective_n(np.ones(17)) == pytest.approx(17)
    assert kish_effective_n([1, 3]) == pytest.approx(16 / 10)
    per = kish_effective_n(apistrat["pw"], apistrat["stype"])
    assert per.to_dict() == pytest.approx({"E": 100.0, "H": 50.0, "M": 50.0})
    assert np.isnan(kish_effective_n([0.0, 0.0]))


def test_series_index_irrelevant_positions_used():
    y = pd.Series([1.0, 2.0, 3.0], index=[10, 20, 30])
    w = pd.Series([1.0, 1.0, 2.0], index=["x", "y", "z"])
    assert weighted_mean(y, w)[0] == pytest.approx(9 / 4)


# --- degenerate input -----------------------------------------------------------------


def test_single_row_gives_nan_se_without_warning():
    mean, se = weighted_mean([4.0], [2.0])
    assert mean == 4.0
    assert np.isnan(se)
    out = grouped_means([1.0, 2.0, 3.0], design=["a", "b", "b"])
    assert np.isnan(out.loc["a", "se"])
    assert out.loc["b", "se"] == pytest.approx(0.5)


def test_all_missing_and_zero_weights_give_nan():
    assert all(np.isnan(weighted_mean([np.nan, np.nan])))
    mean, se = weighted_mean([1.0, 2.0], [0.0, 0.0])
    assert np.isnan(mean) and np.isnan(se)
    out = grouped_means([np.nan, 1.0, 2.0], design=["a", "b", "b"])
    assert list(out.index) == ["b"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": ["a", "b"]}, "numeric"),
        ({"y": [1.0, np.inf]}, "infinite"),
        ({"y": [1.0, 2.0], "w": [1.0, -1.0]}, "negative"),
        ({"y": [1.0, 2.0], "w": [1.0, np.nan]}, "missing"),
        ({"y": [1.0, 2.0], "w": [1.0]}, "length"),
        ({"y": [[1.0, 2.0]]}, "one-dimensional"),
        ({"y": [1.0, 2.0], "missing": "drop"}, "missing must be"),
    ],
)
def test_weighted_mean_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        weighted_mean(**kwargs)


def test_bad_design_inputs():
    with pytest.raises(ValueError, match="design labels are missing"):
        grouped_means([1.0, 2.0], design=pd.Series(["a", None]))
    with pytest.raises(ValueError, match="length"):
        grouped_means([1.0, 2.0], design=["a"])
    with pytest.raises(ValueError, match="length"):
        domain_means([1.0, 2.0], ["a", "b", "c"])
    with pytest.raises(ValueError, match="constant within"):
        weighted_mean([1.0, 2.0, 3.0], strata=["a", "a", "b"], fpc=[10, 11, 10])
    with pytest.raises(ValueError, match="smaller than"):
        weighted_mean([1.0, 2.0, 3.0], strata=["a", "a", "b"], fpc=[1.5, 1.5, 10])
    with pytest.raises(ValueError, match="numeric"):
        weighted_mean(pd.Series(["1", "x"], dtype="category"))


# --- properties -------------------------------------------------------------------------

values = st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=40)


@settings(deadline=None, database=None, max_examples=60)
@given(
    data=st.data(),
    ys=values,
    scale=st.floats(1e-3, 1e3),
)
def test_scaling_weights_changes_nothing(data, ys, scale):
    n = len(ys)
    w = np.array(data.draw(st.lists(st.floats(0.1, 10), min_size=n, max_size=n)))
    g = np.array(data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)))
    y = np.array(ys)
    m1, s1 = weighted_mean(y, w)
    m2, s2 = weighted_mean(y, w * scale)
    assert m2 == pytest.approx(m1, rel=1e-9, abs=1e-9)
    assert s2 == pytest.approx(s1, rel=1e-7, abs=1e-9)
    d1 = domain_means(y, g, w)
    d2 = domain_means(y, g, w * scale)
    np.testing.assert_allclose(d2["mean"], d1["mean"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d2["se"], d1["se"], rtol=1e-7, atol=1e-9)


@settings(deadline=None, database=None, max_examples=60)
@given(data=st.data(), ys=values)
def test_permuting_rows_changes_nothing(data, ys):
    n = len(ys)
    y = np.array(ys)
    w = np.array(data.draw(st.lists(st.floats(0.1, 10), min_size=n, max_size=n)))
    g = np.array(data.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)))
    d = np.array(data.draw(st.lists(st.sampled_from([1, 2]), min_size=n, max_size=n)))
    perm = np.array(data.draw(st.permutations(range(n))))
    assert weighted_mean(y[perm], w[perm]) == pytest.approx(weighted_mean(y, w), rel=1e-9, abs=1e-9)
    a = grouped_means(y, w, design=d, domain=g)
    b = grouped_means(y[perm], w[perm], design=d[perm], domain=g[perm])
    pd.testing.assert_index_equal(a.index, b.index)
    np.testing.assert_allclose(
        b.to_numpy(dtype=float), a.to_numpy(dtype=float), rtol=1e-9, atol=1e-9
    )


def test_a_group_whose_answers_are_all_equal_has_no_design_effect_in_any_row_order() -> None:
    """All answers 100 with unequal weights: the weighted mean carries rounding residuals of
    about 1e-14, and deff would be their ratio, different for every order of the rows (a
    property test found 1.12 against NaN). It is NaN, as for no spread, in every order."""
    rng = np.random.default_rng(7)
    y = np.full(16, 100.0)
    w = rng.uniform(0.2, 5.0, size=16)
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(16)
        out = grouped_means(y[order], w[order])
        assert np.isnan(out["deff"].iloc[0])
        assert out["mean"].iloc[0] == pytest.approx(100.0)
        assert out["se"].iloc[0] == pytest.approx(0.0, abs=1e-9)
