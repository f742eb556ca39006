"""Themes per commenting respondent: share with its Wilson interval (Kish n when weighted),
the change test against the previous wave, and ``min_comment_group_size`` suppression, each
checked against an independent computation (statsmodels and the formulas written out)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

import analysis
from tests.analysis.test_text_themes import definitions_folder


def responses(rows: list[tuple], weights: list[float] | None = None) -> pd.DataFrame:
    """rows: (wave, team, T1, T2)."""
    frame = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(rows))],
            "instrument": "pulse",
            "audience": "staff",
            "wave": [r[0] for r in rows],
            "Q1": "4",
            "team": [r[1] for r in rows],
            "T1": [r[2] for r in rows],
            "T2": [r[3] for r in rows],
        }
    )
    if weights is not None:
        frame["weight"] = weights
    return frame


def two_waves() -> list[tuple]:
    rows = []
    # W1: 40 respondents, 30 comment; bins in 18 (one respondent twice: counted once)
    rows += [("W1", "a", "Bins are never emptied", "More bins please")] * 6
    rows += [("W1", "a", "Rubbish left out", None)] * 12
    rows += [("W1", "b", "Council tax is too high", None)] * 12
    rows += [("W1", "b", None, None)] * 10
    # W2: 40 respondents, 32 comment; bins in 8, money in 20
    rows += [("W2", "a", "Bins fine", None)] * 8
    rows += [("W2", "b", "Council tax wasted", None)] * 20
    rows += [("W2", "b", "Nothing to add", None)] * 4 + [("W2", "a", None, None)] * 8
    return rows


def has_theme(rows: list[tuple], words: tuple[str, ...]) -> np.ndarray:
    return np.array(
        [any(w in f"{r[2] or ''} {r[3] or ''}".lower() for w in words) for r in rows], dtype=float
    )


def commenting(rows: list[tuple]) -> np.ndarray:
    return np.array([bool(r[2]) or bool(r[3]) for r in rows])


def whole(themes: pd.DataFrame) -> pd.DataFrame:
    return themes[themes["by"].isna()].set_index(["wave", "theme"])


def test_unweighted_share_wilson_and_change_test(tmp_path: Path) -> None:
    rows = two_waves()
    themes = analysis.run(responses(rows), definitions_folder(tmp_path, 10), min_n=10).themes
    table = whole(themes)
    w1, w2 = table.loc[("W1", "bins")], table.loc[("W2", "bins")]
    assert (w1["n_commenting"], w1["respondents"]) == (30, 18)
    assert w1["share_commenting"] == pytest.approx(60.0)
    low, high = proportion_confint(18, 30, method="wilson")
    assert (w1["ci_low"], w1["ci_high"]) == pytest.approx((100 * low, 100 * high), abs=1e-9)
    assert (w2["n_commenting"], w2["respondents"]) == (32, 8)
    assert w2["change_commenting"] == pytest.approx(25.0 - 60.0)
    # the items' unweighted change test: pooled two-proportion z
    p_bins = proportions_ztest([18, 8], [30, 32])[1]
    p_money = proportions_ztest([12, 20], [30, 32])[1]
    assert w2["p_value"] == pytest.approx(p_bins, abs=1e-9)
    assert table.loc[("W2", "money"), "p_value"] == pytest.approx(p_money, abs=1e-9)
    adjusted = multipletests([p_bins, p_money], method="fdr_bh")[1]
    assert w2["p_adj"] == pytest.approx(adjusted[0], abs=1e-9)
    assert table.loc[("W2", "money"), "p_adj"] == pytest.approx(adjusted[1], abs=1e-9)
    assert w2["significant"] == bool(adjusted[0] < 0.05)
    assert pd.isna(w1["p_value"])  # no previous wave


def test_weighted_share_uses_kish_n_and_taylor_se(tmp_path: Path) -> None:
    rows = two_waves()
    rng = np.random.default_rng(7)
    weights = rng.uniform(0.5, 2.5, len(rows))
    themes = analysis.run(
        responses(rows, list(weights)), definitions_folder(tmp_path, 10), min_n=10
    ).themes
    table = whole(themes)
    waves = np.array([r[0] for r in rows])
    bins = has_theme(rows, ("bin", "rubbish"))
    said = commenting(rows)
    share, se = {}, {}
    for wave in ("W1", "W2"):
        keep = (waves == wave) & said
        w, x = weights[keep], bins[keep]
        p = np.sum(w * x) / np.sum(w)
        n_eff = np.sum(w) ** 2 / np.sum(w * w)
        n = keep.sum()
        share[wave] = p
        se[wave] = np.sqrt(n / (n - 1) * np.sum(w * w * (x - p) ** 2)) / np.sum(w)
        row = table.loc[(wave, "bins")]
        assert row["share_commenting"] == pytest.approx(100 * p, abs=1e-9)
        low, high = proportion_confint(p * n_eff, n_eff, method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * low, 100 * high), abs=1e-9)
        # the Kish n is smaller than the count: a wider interval than the unweighted one
        plain = proportion_confint(p * n, n, method="wilson")
        assert high - low > plain[1] - plain[0]
    z = (share["W2"] - share["W1"]) / np.hypot(se["W1"], se["W2"])
    assert table.loc[("W2", "bins"), "p_value"] == pytest.approx(
        2 * stats.norm.sf(abs(z)), abs=1e-9
    )


def test_min_comment_group_size_counts_commenting_respondents(tmp_path: Path) -> None:
    rows = two_waves()
    # W3: 30 respondents (enough for min_n 10) but only 9 of them comment
    rows += [("W3", "a", "Bins overflowing", None)] * 9 + [("W3", "b", None, None)] * 21
    frame = responses(rows)
    themes = analysis.run(frame, definitions_folder(tmp_path, 10), by=["team"], min_n=10).themes
    table = whole(themes)
    hidden = table.loc["W3"]
    assert hidden["suppressed"].all()
    figures = ["n_commenting", "respondents", "share_commenting", "ci_low", "ci_high"]
    figures += ["change_commenting", "p_value", "count", "share"]
    assert hidden[figures].isna().all().all()
    assert not table.loc["W1", "suppressed"].any()
    # W1 team a has 18 commenting respondents, team b 12: with a threshold of 13 team b is
    # hidden, and team a with it (else the whole-audience row minus a gives b)
    themes = analysis.run(frame, definitions_folder(tmp_path / "13", 13), by=["team"], min_n=10)
    groups = themes.themes[themes.themes["by"] == "team"].set_index(["wave", "group"])
    assert groups.loc[("W1", "b"), "suppressed"].all()
    assert groups.loc[("W1", "a"), "suppressed"].all()
    assert groups.loc[("W1", "a"), "share_commenting"].isna().all()
    # at exactly the threshold the row is shown
    at_threshold = analysis.run(frame, definitions_folder(tmp_path / "30", 30), min_n=10).themes
    assert not whole(at_threshold).loc[("W1", "bins"), "suppressed"]
    above = analysis.run(frame, definitions_folder(tmp_path / "31", 31), min_n=10).themes
    assert whole(above).loc[("W1", "bins"), "suppressed"]
    assert not whole(above).loc[("W2", "bins"), "suppressed"]


def test_min_comment_group_size_must_be_a_positive_whole_number(tmp_path: Path) -> None:
    from instruments import load_definitions

    for bad in (0, "ten"):
        folder = definitions_folder(tmp_path / str(bad), 10)
        text = (folder / "framework.yaml").read_text()
        (folder / "framework.yaml").write_text(
            text.replace("min_comment_group_size: 10", f"min_comment_group_size: {bad}")
        )
        with pytest.raises(ValueError, match="min_comment_group_size"):
            load_definitions(folder)
