"""``analysis.run`` and ``pulse-analysis`` end to end, against R golden values and scipy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import analysis
from instruments import SHIPPED_DIR, load_definitions

REL = 1e-6
AGREE5 = {
    "labels": ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"],
    "positive": [4, 5],
    "dont_know": "Don't know",
}


def definitions_with(tmp_path: Path, *instruments: dict) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir(exist_ok=True)
    shutil.copy(SHIPPED_DIR / "framework.yaml", folder / "framework.yaml")
    for instrument in instruments:
        (folder / f"{instrument['id']}.yaml").write_text(yaml.safe_dump(instrument))
    return folder


def export_frame(
    instrument: str, audience: str, waves, answers: dict[str, list], **extra
) -> pd.DataFrame:
    n = len(waves)
    frame = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "instrument": instrument,
            "version": "",
            "audience": audience,
            "wave": list(waves),
            "submitted_on": "",
            "weight": extra.pop("weight", [None] * n),
        }
    )
    for column, values in {**extra, **answers}.items():
        frame[column] = [None if v is None else str(v) for v in values]
    return frame


# --------------------------------------------------------------------------- golden: api data


@pytest.fixture
def apistrat(golden_dir: Path) -> pd.DataFrame:
    return pd.read_csv(golden_dir / "apistrat.csv")


@pytest.fixture
def api_definitions(tmp_path: Path) -> Path:
    """A residents instrument with one two-point item: 'hi' (api00 > 700) is positive."""
    return definitions_with(
        tmp_path,
        {
            "id": "api",
            "title": "API",
            "audience": "residents",
            "scales": {"yesno": {"labels": ["No", "Yes"], "positive": [2]}},
            "questions": [
                {"id": "HI", "text": "api00 above 700", "scale": "yesno", "outcomes": ["O12"]}
            ],
        },
    )


def api_responses(apistrat: pd.DataFrame) -> pd.DataFrame:
    hi = np.where(apistrat["api00"] > 700, 2, 1)
    return export_frame(
        "api",
        "residents",
        ["W1"] * len(apistrat),
        {"HI": list(hi)},
        weight=list(apistrat["pw"]),
        stype=list(apistrat["stype"]),
        **{"sch.wide": list(apistrat["sch.wide"])},
    )


def test_weighted_item_and_svyby_breakdown_match_r(apistrat, api_definitions) -> None:
    results = analysis.run(api_responses(apistrat), api_definitions, by=["stype"], min_n=10)
    items = results.indicators.query("level == 'item'").set_index("group", drop=False)
    overall = items[items["by"].isna()].iloc[0]
    assert overall["estimate"] == pytest.approx(40.43396816, rel=REL)
    assert overall["se"] == pytest.approx(3.830602763, rel=REL)
    for group, (estimate, se) in {
        "E": (46, 4.996481174),
        "H": (30, 6.497003561),
        "M": (24, 6.055024078),
    }.items():
        row = items.loc[group]
        assert row["estimate"] == pytest.approx(estimate, rel=REL)
        assert row["se"] == pytest.approx(se, rel=REL)
        assert row["n"] == (100 if group == "E" else 50)  # apistrat: 100 elementary, 50 each other


def test_raking_through_the_pipeline_matches_r(apistrat, api_definitions) -> None:
    population = pd.DataFrame(
        {
            "audience": "residents",
            "variable": ["stype"] * 3 + ["sch.wide"] * 2,
            "category": ["E", "H", "M", "No", "Yes"],
            "population": [4421, 755, 1018, 1072, 5122],
        }
    )
    results = analysis.run(api_responses(apistrat), api_definitions, population=population)
    row = results.indicators.query("level == 'item' and by.isna()").iloc[0]
    assert row["estimate"] == pytest.approx(40.41777917, rel=REL)
    assert row["se"] == pytest.approx(3.830297017, rel=REL)  # raked weights treated as fixed
    # Wilson with the Kish effective n of the raked weights (168.580156)
    low, high = analysis.pipeline.wilson_interval(0.4041777917, 168.580156)
    assert row["ci_low"] == pytest.approx(low * 100, rel=1e-6)
    assert row["ci_high"] == pytest.approx(high * 100, rel=1e-6)


# --------------------------------------------------------------------------- golden: tests


@pytest.fixture
def one_item(tmp_path: Path) -> Path:
    return definitions_with(
        tmp_path,
        {
            "id": "pulse",
            "title": "Pulse",
            "audience": "staff",
            "scales": {"agree5": AGREE5},
            "questions": [
                {
                    "id": "Q1",
                    "text": "One",
                    "scale": "agree5",
                    "outcomes": ["O1"],
                    "index": "confidence",
                },
                {
                    "id": "Q2",
                    "text": "Two",
                    "scale": "agree5",
                    "outcomes": ["O1"],
                    "index": "confidence",
                },
            ],
        },
    )


def _waves_with_positives(positives: list[int], n: int = 100) -> pd.DataFrame:
    waves, codes = [], []
    for w, x in enumerate(positives):
        waves += [f"2025-Q{w + 1}"] * n
        codes += [5] * x + [2] * (n - x)
    return export_frame("pulse", "staff", waves, {"Q1": codes, "Q2": codes})


def test_change_is_the_pooled_two_proportion_test(one_item) -> None:
    results = analysis.run(_waves_with_positives([60, 45]), one_item)
    change = results.changes.query("level == 'item' and id == 'Q1'").iloc[0]
    assert change["change"] == pytest.approx(-15, rel=REL)
    assert change["statistic"] == pytest.approx(-2.123977, rel=1e-6)
    assert change["statistic"] ** 2 == pytest.approx(4.5112782, rel=1e-6)
    assert change["p_value"] == pytest.approx(0.03367207, rel=1e-6)
    se1, se2 = (results.indicators.query("level == 'item' and id == 'Q1'")["se"]).to_numpy()
    assert change["mdc"] == pytest.approx((1.959964 + 0.841621) * np.hypot(se1, se2), rel=1e-9)


def test_trend_is_cochran_armitage(one_item) -> None:
    results = analysis.run(_waves_with_positives([40, 45, 55, 60]), one_item)
    trend = results.trends.query("id == 'Q1'").iloc[0]
    assert trend["statistic"] == pytest.approx(9.8, rel=REL)
    assert trend["p_value"] == pytest.approx(0.001745119, rel=1e-6)
    assert trend["waves"] == "2025-Q1;2025-Q2;2025-Q3;2025-Q4"


def test_benjamini_hochberg_runs_over_one_family(one_item) -> None:
    results = analysis.run(_waves_with_positives([40, 45, 55, 60]), one_item)
    for _, family in results.changes.groupby(["wave_from", "wave_to"]):
        expected = analysis.pipeline.benjamini_hochberg(family["p_value"].to_numpy())
        np.testing.assert_allclose(family["p_adj"], expected)
        assert (family["significant"] == (family["p_adj"] < 0.05)).all()
        assert len(family) == 4  # Q1, Q2, the confidence index and outcome O1


def test_index_change_is_welch_on_respondent_scores(one_item) -> None:
    rng = np.random.default_rng(4)
    q1, q2 = rng.integers(1, 6, 160), rng.integers(1, 6, 160)
    q2[:10] = 0  # ten blanks in Q2 (half of two items is still answered)
    frame = export_frame(
        "pulse",
        "staff",
        ["A"] * 70 + ["B"] * 90,
        {"Q1": list(q1), "Q2": [None if x == 0 else x for x in q2]},
    )
    results = analysis.run(frame, one_item, min_n=1)
    change = results.changes.query("level == 'index'").iloc[0]

    def score(p):
        return (p - 1) / 4 * 100

    per_respondent = np.where(q2 == 0, score(q1), (score(q1) + score(q2)) / 2)
    expected = stats.ttest_ind(per_respondent[70:], per_respondent[:70], equal_var=False)
    assert change["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert change["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)


def test_mean_score_and_dont_know_exclusion(one_item) -> None:
    codes = [1] * 3 + [2] * 4 + [4] * 5 + [5] * 7 + ["dk"] * 6 + [None] * 2
    frame = export_frame("pulse", "staff", ["W"] * len(codes), {"Q1": codes, "Q2": codes})
    row = analysis.run(frame, one_item).indicators.query("level == 'item' and id == 'Q1'").iloc[0]
    assert row["mean_score"] == pytest.approx(61.8421053, rel=1e-6)
    assert row["n"] == 19 and row["estimate"] == pytest.approx(12 / 19 * 100)


def test_reliability_matches_the_golden_alpha(golden_dir, tmp_path) -> None:
    items = pd.read_csv(golden_dir / "alpha_items.csv")
    folder = definitions_with(
        tmp_path,
        {
            "id": "alpha",
            "title": "Alpha",
            "audience": "members",
            "scales": {"agree5": AGREE5},
            "questions": [
                {"id": f"Q{i}", "text": f"Item {i}", "scale": "agree5", "index": "culture"}
                for i in range(1, 6)
            ],
        },
    )
    answers = {
        f"Q{i}": [None if pd.isna(v) else int(v) for v in items[f"Q{i}"]] for i in range(1, 6)
    }
    frame = export_frame("alpha", "members", ["W"] * len(items), answers)
    row = analysis.run(frame, folder).reliability.iloc[0]
    assert (row["k"], row["n"]) == (5, 38)
    assert row["alpha"] == pytest.approx(0.8040965175, rel=REL)
    assert row["ci_low"] == pytest.approx(0.6847976575, rel=REL)
    assert row["ci_high"] == pytest.approx(0.8876299965, rel=REL)


def test_reverse_items_count_the_other_end(tmp_path) -> None:
    folder = definitions_with(
        tmp_path,
        {
            "id": "rev",
            "title": "Rev",
            "audience": "staff",
            "scales": {"agree5": AGREE5},
            "questions": [{"id": "R1", "text": "Negative", "scale": "agree5", "reverse": True}],
        },
    )
    frame = export_frame("rev", "staff", ["W"] * 10, {"R1": [1, 1, 2, 3, 4, 5, 5, 5, 5, 5]})
    row = analysis.run(frame, folder).indicators.iloc[0]
    assert row["estimate"] == pytest.approx(30.0)  # positions 1, 1, 2 mirror to 5, 5, 4
    assert row["mean_score"] == pytest.approx(np.mean([100, 100, 75, 50, 25, 0, 0, 0, 0, 0]))


def test_index_and_outcome_need_half_the_items(tmp_path) -> None:
    folder = definitions_with(
        tmp_path,
        {
            "id": "half",
            "title": "Half",
            "audience": "staff",
            "scales": {"agree5": AGREE5},
            "questions": [
                {
                    "id": f"H{i}",
                    "text": f"H{i}",
                    "scale": "agree5",
                    "outcomes": ["O2"],
                    "index": "culture",
                }
                for i in range(1, 5)
            ],
        },
    )
    # respondent 1 answers 2 of 4 (counts), respondent 2 answers 1 of 4 (does not)
    frame = export_frame(
        "half",
        "staff",
        ["W", "W"],
        {"H1": [5, 5], "H2": [1, "dk"], "H3": [None, None], "H4": [None, None]},
    )
    table = analysis.run(frame, folder, min_n=1).indicators.set_index(["level", "id"])
    assert table.loc[("index", "culture"), "n"] == 1
    assert table.loc[("index", "culture"), "estimate"] == pytest.approx(50.0)
    assert table.loc[("outcome", "O2"), "estimate"] == pytest.approx(50.0)


# --------------------------------------------------------------------------- suppression


def test_small_groups_and_their_complement_are_suppressed(one_item) -> None:
    directorate = ["A"] * 40 + ["B"] * 25 + ["C"] * 6
    frame = export_frame(
        "pulse",
        "staff",
        ["W"] * 71,
        {"Q1": [4, 2] * 35 + [5], "Q2": [3] * 71},
        directorate=directorate,
    )
    table = analysis.run(frame, one_item, by=["directorate"]).indicators
    q1 = table.query("level == 'item' and id == 'Q1'").set_index("group")
    assert q1.loc["C", "suppressed"] and q1.loc["B", "suppressed"]  # B is the complement
    assert not q1.loc["A", "suppressed"]
    for column in ("n", "estimate", "se", "ci_low", "ci_high", "mean_score"):
        assert pd.isna(q1.loc["C", column]) and pd.isna(q1.loc["B", column])
    assert (table.loc[~table["suppressed"], "n"] >= 10).all()


def test_min_n_per_audience_and_blank_changes(one_item) -> None:
    frame = _waves_with_positives([3, 6], n=8)
    hidden = analysis.run(frame, one_item)
    assert hidden.indicators["suppressed"].all()
    assert hidden.changes[["estimate_from", "change", "p_value", "significant"]].isna().all().all()
    shown = analysis.run(frame, one_item, min_n={"staff": 5})
    assert not shown.indicators["suppressed"].any()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: f.drop(columns="wave"), "missing required column(s) wave"),
        (
            lambda f: f.assign(Q1=["7"] + list(f["Q1"][1:])),
            "column Q1 has codes outside the scale 1-5",
        ),
        (
            lambda f: f.assign(Q1=["often"] + list(f["Q1"][1:])),
            "column Q1 has codes that are not scale positions",
        ),
        (lambda f: f.assign(Q9="4"), "unknown question id"),
        (lambda f: f.assign(instrument="nope"), "unknown instrument(s) nope"),
        (lambda f: f.assign(audience="members"), "column audience should be 'staff'"),
        (lambda f: f.assign(weight="-1"), "column weight must be a finite positive number"),
    ],
)
def test_bad_input_names_the_problem(one_item, mutate, message) -> None:
    with pytest.raises(ValueError) as caught:
        analysis.run(mutate(_waves_with_positives([5, 6], n=20)), one_item)
    assert message in str(caught.value)


def test_raking_rows_with_unknown_categories_are_named_or_dropped(
    apistrat, api_definitions
) -> None:
    responses = api_responses(apistrat)
    responses.loc[[3, 17], "stype"] = "X"
    population = pd.DataFrame(
        {
            "audience": "residents",
            "variable": ["stype"] * 3,
            "category": ["E", "H", "M"],
            "population": [4421, 755, 1018],
        }
    )
    # the wave cannot be raked: its figures are blank and its note names the rows
    failed = analysis.run(responses, api_definitions, population=population)
    assert failed.indicators["estimate"].isna().all()
    assert (
        failed.notes["note"]
        .str.contains("category not in the population margins .* at rows 3, 17")
        .any()
    )
    results = analysis.run(responses, api_definitions, population=population, drop_incomplete=True)
    assert results.indicators.iloc[0]["n"] == len(apistrat) - 2
    assert results.notes["note"].str.contains("left out 2 respondents").any()


# --------------------------------------------------------------------------- properties


@st.composite
def samples(draw):
    n = draw(st.integers(12, 60))
    codes = draw(
        st.lists(st.sampled_from(["1", "2", "3", "4", "5", "dk", None]), min_size=n, max_size=n)
    )
    waves = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(0.2, 5.0), min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n))
    return export_frame(
        "pulse",
        "staff",
        waves,
        {"Q1": codes, "Q2": list(reversed(codes))},
        weight=weights,
        team=groups,
    )


@settings(
    deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=samples(), scale=st.floats(0.1, 50.0), seed=st.integers(0, 1000))
def test_properties(one_item, frame, scale, seed) -> None:
    min_n = 4
    base = analysis.run(frame, one_item, by=["team"], min_n=min_n).indicators
    shown = base[~base["suppressed"]]
    assert (shown["n"] >= min_n).all()
    assert shown["estimate"].between(0, 100).all()
    assert (shown["ci_low"] <= shown["estimate"] + 1e-9).all()
    assert (shown["estimate"] <= shown["ci_high"] + 1e-9).all()
    items = shown[shown["level"] == "item"]
    assert items["ci_low"].between(0, 100).all() and items["ci_high"].between(0, 100).all()
    scaled = frame.assign(weight=[str(float(w) * scale) for w in frame["weight"]])
    pd.testing.assert_frame_equal(
        base,
        analysis.run(scaled, one_item, by=["team"], min_n=min_n).indicators,
        rtol=1e-9,
        atol=1e-9,
    )
    shuffled = frame.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(
        base,
        analysis.run(shuffled, one_item, by=["team"], min_n=min_n).indicators,
        rtol=1e-9,
        atol=1e-9,
    )


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis.cli", *args], capture_output=True, text=True, check=False
    )


def test_cli_writes_every_table(tmp_path, one_item) -> None:
    csv = tmp_path / "responses.csv"
    _waves_with_positives([40, 45, 55, 60]).to_csv(csv, index=False)
    out = tmp_path / "out"
    result = _cli(
        "indicators",
        "--responses",
        str(csv),
        "--instruments",
        str(one_item),
        "--waves",
        "2025-Q4,2025-Q1,2025-Q2",
        "--min-n",
        "staff=20",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "significant" in result.stderr
    for name, first in [
        ("indicators", "instrument,audience,wave,level,id,by,group,n,estimate"),
        ("changes", "instrument,audience,level,id,by,group,wave_from,wave_to"),
        ("trends", "instrument,audience,level,id,by,group,waves,statistic,p_value"),
        ("reliability", "instrument,audience,wave,index,k,n,alpha"),
    ]:
        text = (out / f"{name}.csv").read_text()
        assert text.startswith(first), name
    indicators = pd.read_csv(out / "indicators.csv", dtype=str)
    assert list(dict.fromkeys(indicators["wave"])) == ["2025-Q4", "2025-Q1", "2025-Q2"]
    assert set(indicators["suppressed"]) == {"false"}
    changes = pd.read_csv(out / "changes.csv", dtype=str)
    assert set(zip(changes["wave_from"], changes["wave_to"], strict=True)) == {
        ("2025-Q4", "2025-Q1"),
        ("2025-Q1", "2025-Q2"),
    }


def test_cli_bad_input_exits_non_zero_with_the_row(tmp_path, one_item) -> None:
    csv = tmp_path / "responses.csv"
    frame = _waves_with_positives([5, 6], n=20)
    frame.loc[4, "Q2"] = "9"
    frame.to_csv(csv, index=False)
    result = _cli(
        "indicators",
        "--responses",
        str(csv),
        "--instruments",
        str(one_item),
        "--out",
        str(tmp_path / "o"),
    )
    assert result.returncode == 2
    assert (
        "column Q2 has codes outside the scale 1-5 at row 6" in result.stderr
    )  # line 6 of the file
    missing = _cli(
        "indicators",
        "--responses",
        str(tmp_path / "none.csv"),
        "--instruments",
        str(one_item),
        "--out",
        str(tmp_path / "o"),
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    bad_defs = _cli(
        "indicators",
        "--responses",
        str(csv),
        "--instruments",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    assert bad_defs.returncode == 2 and "framework.yaml" in bad_defs.stderr
    assert not (tmp_path / "o").exists()


def test_demo_export_analyses_cleanly() -> None:
    """The shipped instruments and the demo generator agree with the analysis package."""
    from analysis.synthetic import synthetic_responses

    definitions = load_definitions()
    frames = [
        synthetic_responses(i, ["2026-Q1", "2026-Q2", "2026-Q3"], 60, seed=k)
        for k, i in enumerate(definitions.instruments.values())
    ]
    results = analysis.run(pd.concat(frames, ignore_index=True), definitions, by=["directorate"])
    assert set(results.indicators["instrument"]) == set(definitions.instruments)
    assert set(results.indicators["level"]) == {"item", "index", "outcome", "number"}
    assert len(results.trends) and len(results.reliability)
