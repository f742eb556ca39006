"""Key drivers (issue 18, section 2): LMG shares of the weighted least squares R^2.

The point estimates are checked against a different algorithm: the average over every
ordering of the predictors of the increase in statsmodels' WLS R^2 as each enters."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import analysis
from analysis.drivers import DRIVER_COLUMNS, MAX_PREDICTORS, relative_importance
from tests.analysis.test_pipeline import definitions_with


def _fixed_data(
    n: int = 240, p: int = 4, seed: int = 7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    x = np.column_stack([common * (j + 1) / p + rng.normal(size=n) for j in range(p)]) * 20 + 50
    y = x @ np.array([0.6, 0.3, 0.0, 0.2][:p]) + rng.normal(scale=15, size=n)
    w = rng.lognormal(0, 0.5, n)
    return y, x, w


def _wls_r2(y: np.ndarray, x: np.ndarray, w: np.ndarray | None, columns: list[int]) -> float:
    if not columns:
        return 0.0
    design = sm.add_constant(x[:, columns], has_constant="add")
    model = sm.WLS(y, design, weights=w) if w is not None else sm.OLS(y, design)
    return float(model.fit().rsquared)


def _by_permutations(y: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    p = x.shape[1]
    total = np.zeros(p)
    orders = list(itertools.permutations(range(p)))
    for order in orders:
        entered: list[int] = []
        before = 0.0
        for j in order:
            entered.append(j)
            after = _wls_r2(y, x, w, sorted(entered))
            total[j] += after - before
            before = after
    return total / len(orders)


@pytest.mark.parametrize("weighted", [True, False])
def test_shapley_shares_match_averaged_statsmodels_increments(weighted) -> None:
    y, x, w = _fixed_data()
    weights = w if weighted else None
    fit = relative_importance(y, x, weights, resamples=0)
    full = _wls_r2(y, x, weights, list(range(x.shape[1])))
    expected = 100 * _by_permutations(y, x, weights) / full
    assert fit["r2"] == pytest.approx(full, rel=1e-9)
    np.testing.assert_allclose(fit["importance"], expected, rtol=1e-8)
    assert float(np.sum(fit["importance"])) == pytest.approx(100.0, rel=1e-12)


def test_bootstrap_interval_is_reproducible_and_covers_the_estimate() -> None:
    y, x, w = _fixed_data()
    first = relative_importance(y, x, w, resamples=200, seed=18)
    again = relative_importance(y, x, w, resamples=200, seed=18)
    other = relative_importance(y, x, w, resamples=200, seed=19)
    np.testing.assert_array_equal(first["ci_low"], again["ci_low"])
    assert not np.array_equal(first["ci_low"], other["ci_low"])
    assert np.all(first["ci_low"] <= first["importance"])
    assert np.all(first["importance"] <= first["ci_high"])


def test_a_constant_predictor_gets_no_share() -> None:
    y, x, w = _fixed_data(p=3)
    x = np.column_stack([x, np.full(len(y), 75.0)])
    fit = relative_importance(y, x, w, resamples=0)
    assert fit["importance"][-1] == pytest.approx(0.0, abs=1e-9)
    assert float(np.sum(fit["importance"])) == pytest.approx(100.0)


def test_bad_input_is_a_value_error() -> None:
    y, x, w = _fixed_data()
    with pytest.raises(ValueError, match="one row per value"):
        relative_importance(y[:-1], x, w)
    with pytest.raises(ValueError, match="complete cases"):
        relative_importance(np.where(np.arange(len(y)) == 3, np.nan, y), x, w)
    with pytest.raises(ValueError, match=f"1 to {MAX_PREDICTORS} predictors"):
        relative_importance(y, np.tile(x, 5), w)


# --------------------------------------------------------------------------- pipeline


def _instrument(items: int, reverse: str | None = None) -> dict:
    questions = [
        {
            "id": f"Q{i}",
            "text": f"Statement {i}",
            "scale": "agree5",
            "outcomes": ["O1"],
            **({"index": "confidence"} if i <= 2 else {}),
            **({"reverse": True} if f"Q{i}" == reverse else {}),
        }
        for i in range(1, items + 1)
    ]
    return {
        "id": "staff-pulse",
        "title": "Staff pulse",
        "audience": "staff",
        "scales": {
            "agree5": {
                "labels": ["SD", "D", "N", "A", "SA"],
                "positive": [4, 5],
                "dont_know": "Don't know",
            }
        },
        "questions": questions,
    }


def _responses(n: int, items: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mood = rng.normal(size=n)
    answers = {
        f"Q{i}": np.clip(np.round(3 + mood * (0.5 + 0.1 * i) + rng.normal(size=n)), 1, 5).astype(
            int
        )
        for i in range(1, items + 1)
    }
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "instrument": "staff-pulse",
            "version": "",
            "audience": "staff",
            "wave": "2026-Q1",
            "submitted_on": None,
            "weight": None,
            **{q: a.astype(str) for q, a in answers.items()},
        }
    )


def test_pipeline_drivers_follow_the_listwise_regression(tmp_path: Path) -> None:
    folder = definitions_with(tmp_path, _instrument(6, reverse="Q5"))
    frame = _responses(300, 6)
    frame.loc[:9, "Q4"] = None  # ten respondents left out listwise
    results = analysis.run(frame, folder)
    drivers = results.drivers
    assert list(drivers.columns) == DRIVER_COLUMNS
    assert set(drivers["target_id"]) == {"confidence"}
    assert sorted(drivers["item"]) == ["Q3", "Q4", "Q5", "Q6"]
    assert set(drivers["n"]) == {290}
    assert drivers["importance"].sum() == pytest.approx(100.0)
    assert drivers["importance"].is_monotonic_decreasing
    # the same regression by hand: index = mean 0-100 score of Q1, Q2; Q5 reversed
    codes = frame[[f"Q{i}" for i in range(1, 7)]].astype(float)
    scores = (codes - 1) / 4 * 100
    scores["Q5"] = 100 - scores["Q5"]
    keep = codes["Q4"].notna().to_numpy()
    y = scores[["Q1", "Q2"]].mean(axis=1).to_numpy()[keep]
    x = scores[["Q3", "Q4", "Q5", "Q6"]].to_numpy()[keep]
    expected = 100 * _by_permutations(y, x, None) / _wls_r2(y, x, None, [0, 1, 2, 3])
    ours = drivers.set_index("item").loc[["Q3", "Q4", "Q5", "Q6"]]
    np.testing.assert_allclose(ours["importance"].to_numpy(float), expected, rtol=1e-8)
    np.testing.assert_allclose(ours["item_score"].to_numpy(float), x.mean(axis=0), rtol=1e-12)


def test_too_few_and_too_many_become_notes(tmp_path: Path) -> None:
    (tmp_path / "few").mkdir()
    (tmp_path / "many").mkdir()
    few = analysis.run(_responses(80, 6), definitions_with(tmp_path / "few", _instrument(6)))
    assert few.drivers.empty
    assert few.notes["note"].str.contains(r"too few to estimate \(80 respondents answered").any()
    assert len(few.indicators)  # the rest of the results are there
    (tmp_path / "one").mkdir()
    one = analysis.run(_responses(1, 6), definitions_with(tmp_path / "one", _instrument(6)))
    assert one.notes["note"].str.contains(r"too few to estimate \(1 respondent answered").any()
    many = analysis.run(_responses(120, 20), definitions_with(tmp_path / "many", _instrument(20)))
    assert many.drivers.empty
    assert many.notes["note"].str.contains("too many items").any()
