"""Routed items (the base is those asked), multi items ("% choosing X" among those who
answered) and the at-least-half rule over the items asked, against R ``survey``.

The reference values come from ``tests/golden/routing/routing.R`` (R 4.2.2 with survey
4.1.1), run on ``routing_responses.csv`` with the coding of ``definitions/routed.yaml``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.estimators import weighted_median
from analysis.scoring import respondent_mean
from instruments import SHIPPED_DIR

KEYS = ["instrument", "wave", "level", "id", "group"]


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> Path:
    return golden_dir / "routing"


@pytest.fixture(scope="module")
def definitions(golden: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("routing") / "definitions"
    shutil.copytree(golden / "definitions", folder)
    shutil.copy(SHIPPED_DIR / "framework.yaml", folder / "framework.yaml")
    return folder


@pytest.fixture(scope="module")
def results(golden: Path, definitions: Path) -> analysis.Results:
    responses = analysis.read_responses(golden / "routing_responses.csv")
    return analysis.run(responses, definitions, min_n=1)


def test_routed_and_multi_items_indices_and_outcomes_match_r(results, golden: Path) -> None:
    reference = pd.read_csv(
        golden / "routing_indicators.csv", keep_default_na=False, na_values=["NA"]
    )
    reference = reference.set_index(KEYS)
    ours = results.indicators.assign(group=results.indicators["group"].fillna("")).set_index(KEYS)
    matched = ours.loc[reference.index]
    np.testing.assert_array_equal(matched["n"].to_numpy(float), reference["n"].to_numpy(float))
    for column in ("estimate", "se", "deff", "median"):
        np.testing.assert_allclose(
            matched[column].to_numpy(float),
            reference[column].to_numpy(float),
            rtol=1e-6,
            atol=1e-9,
            err_msg=column,
        )


def test_the_routed_base_is_those_asked(results, golden: Path) -> None:
    responses = pd.read_csv(golden / "routing_responses.csv", dtype=str, keep_default_na=False)
    asked = responses["Q2"] != "na"
    answered = asked & responses["Q2"].isin(list("12345"))
    q2 = results.indicators.set_index(["level", "id"]).loc[("item", "Q2")]
    assert q2["n"] == answered.sum() < asked.sum() < len(responses)


def test_a_number_gets_its_weighted_mean_median_and_se(results) -> None:
    q6 = results.indicators.set_index(["level", "id"]).loc[("number", "Q6")]
    assert q6["ci_low"] == pytest.approx(q6["estimate"] - 1.959963984540054 * q6["se"])
    assert q6["estimate"] > 0 and q6["median"] == int(q6["median"])


def test_weighted_median_is_the_inverse_of_the_weighted_distribution() -> None:
    assert weighted_median([1, 2, 3, 4]) == 2  # F(2) = 0.5 exactly
    assert weighted_median([1, 2, 3, 4], [1, 1, 1, 5]) == 4
    assert weighted_median([5, np.nan, 1], [1, 100, 1]) == 1
    assert np.isnan(weighted_median([np.nan]))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_median([1, 2], [1, -1])


def test_at_least_half_counts_the_items_asked() -> None:
    scores = pd.DataFrame(
        {"a": [np.nan, np.nan, 50.0], "b": [100.0, 100.0, np.nan], "c": [np.nan, 0.0, np.nan]}
    )
    asked = pd.DataFrame(
        {"a": [False, True, True], "b": [True, True, True], "c": [True, True, True]}
    )
    everyone = respondent_mean(scores, 0.5)
    routed = respondent_mean(scores, 0.5, asked=asked)
    # row 0 was asked b and c only and answered one of two: a score now, none before
    assert np.isnan(everyone[0]) and routed[0] == 100.0
    assert everyone[1] == routed[1] == 50.0
    assert np.isnan(routed[2]) and np.isnan(everyone[2])
    with pytest.raises(ValueError, match="asked has shape"):
        respondent_mean(scores, 0.5, asked=asked.iloc[:2])


def test_a_not_asked_attribute_is_blank_for_raking_and_its_own_breakdown_group() -> None:
    from analysis.margins import not_stated
    from analysis.responses import breakdown_labels

    frame = pd.DataFrame({"ward": ["North", "na", None, "Prefer not to say"]})
    assert not_stated(frame["ward"]).tolist() == [False, True, True, True]
    assert breakdown_labels(frame, "ward").tolist() == [
        "North",
        "(not asked)",
        "(not stated)",
        "Prefer not to say",
    ]
