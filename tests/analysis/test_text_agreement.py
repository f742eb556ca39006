"""Coder agreement against published examples: Krippendorff (2011) and Cohen's kappa."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.text.agreement import codes_matrix, cohen_kappa, krippendorff_alpha, theme_agreement

nan = np.nan

# Krippendorff, K. (2011) "Computing Krippendorff's alpha-reliability", section C: four
# observers, 12 units, values 1-5, missing values (also in the krippendorff package README).
FOUR_CODERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]
# The three-coder example of the krippendorff package README (nominal 0.691, interval 0.811).
THREE_CODERS = [
    [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
    [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
    [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
]


def test_krippendorff_four_coder_example() -> None:
    assert round(krippendorff_alpha(FOUR_CODERS), 3) == 0.743
    assert round(krippendorff_alpha(FOUR_CODERS, "interval"), 3) == 0.849


def test_krippendorff_readme_example() -> None:
    assert round(krippendorff_alpha(THREE_CODERS), 3) == 0.691
    assert round(krippendorff_alpha(THREE_CODERS, "interval"), 3) == 0.811


def test_cohen_kappa_published_example() -> None:
    # Cohen's kappa, worked example (Wikipedia "Cohen's kappa"): 50 grant proposals, two
    # readers; both yes 20, both no 15, A yes/B no 5, A no/B yes 10 -> p_o 0.7, p_e 0.5, 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert round(cohen_kappa(a, b), 3) == 0.400


def test_undefined_statistics_are_nan_not_errors() -> None:
    assert np.isnan(cohen_kappa([0, 0, 0], [0, 0, 0]))
    assert np.isnan(cohen_kappa([1], [0]))
    assert np.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, 1]]))
    with pytest.raises(ValueError, match="same units"):
        cohen_kappa([1, 0], [1, 0, 1])


def test_theme_agreement_per_theme_and_overall() -> None:
    themes = ["budget", "trust", "systems"]
    a = codes_matrix(
        {
            "c1": ["budget"],
            "c2": ["budget", "trust"],
            "c3": [],
            "c4": ["trust"],
            "c5": ["budget"],
            "c6": ["trust", "systems"],
        },
        themes,
    )
    b = codes_matrix(
        {
            "c1": ["budget"],
            "c2": ["trust"],
            "c3": ["trust"],
            "c4": ["trust"],
            "c5": ["budget"],
            "c6": ["trust", "systems"],
            "c9": ["budget"],
        },
        themes,
    )
    table = theme_agreement(a, b).set_index("theme")
    assert table.index.tolist() == [*themes, "overall"]
    assert (table["n_comments"] == 6).all()
    budget_a, budget_b = [1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0]
    assert table.loc["budget", "kappa"] == pytest.approx(cohen_kappa(budget_a, budget_b))
    assert table.loc["budget", "alpha"] == pytest.approx(krippendorff_alpha([budget_a, budget_b]))
    assert table.loc["budget", "agreement"] == pytest.approx(5 / 6)
    assert table.loc["systems", "kappa"] == 1.0 and table.loc["systems", "alpha"] == 1.0
    pooled_a = np.concatenate([a[t].to_numpy(int) for t in themes])
    pooled_b = np.concatenate([b.loc[a.index, t].to_numpy(int) for t in themes])
    assert table.loc["overall", "kappa"] == pytest.approx(cohen_kappa(pooled_a, pooled_b))
    assert table.loc["overall", "agreement"] == pytest.approx(16 / 18)
    with pytest.raises(ValueError, match="unknown theme"):
        codes_matrix({"c1": ["nope"]}, themes)
    assert isinstance(a, pd.DataFrame)
