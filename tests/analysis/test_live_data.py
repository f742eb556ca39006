"""Thin and awkward waves (issue 15, section 2): notes instead of failures, raking fitted to
the respondents a wave has, comparisons on common items, and bad input named by row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis
from analysis.margins import wave_margins
from analysis.notes import NOTE_COLUMNS
from analysis.weighting import rake

from .test_pipeline import AGREE5, definitions_with, export_frame

AGES = ["16-34", "35-54", "55 and over"]
MARGINS = {
    "age_band": dict(zip(AGES, [41_000.0, 45_000.0, 42_000.0], strict=True)),
    "sex": {"Female": 65_500.0, "Male": 62_500.0},
}


@pytest.fixture
def residents(tmp_path: Path) -> Path:
    return definitions_with(
        tmp_path,
        {
            "id": "res",
            "title": "Residents",
            "audience": "residents",
            "scales": {"agree5": AGREE5},
            "attributes": [
                {"id": "age_band", "text": "Age", "choices": AGES},
                {"id": "sex", "text": "Sex", "choices": ["Female", "Male"]},
            ],
            "questions": [
                {
                    "id": "R1",
                    "text": "One",
                    "scale": "agree5",
                    "outcomes": ["O12"],
                    "index": "confidence",
                },
                {
                    "id": "R2",
                    "text": "Two",
                    "scale": "agree5",
                    "outcomes": ["O12"],
                    "index": "confidence",
                },
            ],
        },
    )


def population(margins=MARGINS) -> pd.DataFrame:
    rows = [("residents", v, c, t) for v, cats in margins.items() for c, t in cats.items()]
    return pd.DataFrame(rows, columns=["audience", "variable", "category", "population"])


def resident_wave(
    wave: str, ages: list, sexes: list, answers: list | None = None, start: int = 0
) -> pd.DataFrame:
    n = len(ages)
    answers = answers if answers is not None else [(i % 5) + 1 for i in range(n)]
    frame = export_frame(
        "res",
        "residents",
        [wave] * n,
        {"R1": answers, "R2": answers[::-1]},
        age_band=ages,
        sex=sexes,
    )
    frame["response_id"] = [f"{wave}-{start + i}" for i in range(n)]
    return frame


def test_a_category_without_respondents_is_merged_into_the_next(residents) -> None:
    ages = ["35-54", "35-54", "55 and over", "55 and over"]  # nobody aged 16-34 yet
    frame = resident_wave("2026-Q4", ages, ["Female", "Male", "Female", "Male"])
    results = analysis.run(frame, residents, population=population(), min_n=1)
    notes = results.notes["note"].tolist()
    assert any("no respondents in '16-34'; merged into '35-54'" in n for n in notes)
    # the figures are those of raking to the merged margin
    merged = {
        "age_band": {"16-34 + 35-54": 86_000.0, "55 and over": 42_000.0},
        "sex": MARGINS["sex"],
    }
    recoded = frame.assign(age_band=frame["age_band"].replace({"35-54": "16-34 + 35-54"}))
    weights = rake(recoded[["age_band", "sex"]], merged).to_numpy()
    positive = (frame["R1"].astype(int) >= 4).to_numpy()
    row = results.indicators.query("level == 'item' and id == 'R1'").iloc[0]
    assert row["estimate"] == pytest.approx(
        100 * np.sum(weights * positive) / weights.sum(), rel=1e-9
    )


def test_the_last_category_merges_into_the_previous_and_one_category_margins_are_dropped(
    residents,
) -> None:
    frame = resident_wave("W", ["16-34", "35-54", "16-34", "35-54"], ["Female"] * 4)
    results = analysis.run(frame, residents, population=population(), min_n=1)
    notes = " | ".join(results.notes["note"])
    assert "no respondents in '55 and over'; merged into '35-54'" in notes
    assert "sex: no respondents in 'Male'; merged into 'Female'" in notes
    assert "sex: only one category left ('Female + Male'); margin dropped for this wave" in notes
    design = results.designs.iloc[0]
    assert design["weighting"] == "raked"


def test_blank_and_prefer_not_to_say_keep_their_weighted_share(residents) -> None:
    ages = ["16-34", "35-54", "55 and over", "55 and over", None, "Prefer not to say"] * 3
    sexes = ["Female", "Male"] * 9
    frame = resident_wave("W", ages, sexes)
    results = analysis.run(frame, residents, population=population(), min_n=1)
    assert results.designs.iloc[0]["weighting"] == "raked"
    note = results.notes.loc[results.notes["note"].str.startswith("raking: age_band"), "note"].iloc[
        0
    ]
    assert "6 respondents (33.3% of the weight) left it blank or preferred not to say" in note
    assert "scaled by 0.667" in note
    # same figures as raking with the not-stated respondents as their own category at 1/3
    share = 1 / 3
    margins = {
        "age_band": {k: v * (1 - share) for k, v in MARGINS["age_band"].items()}
        | {"(not stated)": share * 128_000},
        "sex": MARGINS["sex"],
    }
    recoded = frame.assign(
        age_band=frame["age_band"].replace({"Prefer not to say": None}).fillna("(not stated)")
    )
    weights = rake(recoded[["age_band", "sex"]], margins).to_numpy()
    positive = (frame["R1"].astype(int) >= 4).to_numpy()
    row = results.indicators.query("level == 'item' and id == 'R1'").iloc[0]
    assert row["estimate"] == pytest.approx(
        100 * np.sum(weights * positive) / weights.sum(), rel=1e-9
    )
    dropped = analysis.run(frame, residents, population=population(), min_n=1, drop_incomplete=True)
    assert dropped.indicators.query("level == 'item' and id == 'R1'").iloc[0]["n"] == 12


def test_a_wave_that_cannot_be_weighted_does_not_stop_the_others(residents) -> None:
    good = resident_wave("2026-Q1", AGES * 4, ["Female", "Male"] * 6)
    bad = resident_wave("2026-Q2", AGES * 4, ["Female", "Male"] * 6, start=100)
    margins = {"age_band": MARGINS["age_band"], "sex": {"Female": 128_000.0, "Male": 0.0}}
    both = pd.concat([good, bad], ignore_index=True)
    # zero population for Male, which has respondents, in wave 2026-Q2 only
    frame = both.assign(
        sex=np.where((both["wave"] == "2026-Q1") & (both["sex"] == "Male"), "Female", both["sex"])
    )
    results = analysis.run(frame, residents, population=population(margins), min_n=1)
    table = results.indicators.set_index(["wave", "level", "id"])
    assert table.loc[("2026-Q1", "item", "R1"), "estimate"] > 0
    blank = table.loc["2026-Q2"]
    assert blank[["n", "estimate", "se"]].isna().all().all() and not blank["suppressed"].any()
    failed = results.notes[results.notes["wave"] == "2026-Q2"]
    assert (
        failed["note"]
        .str.contains(
            "could not be weighted: category 'Male' of 'sex' has respondents "
            "but a zero population total"
        )
        .any()
    )
    assert results.changes[["statistic", "p_value"]].isna().all().all()


def test_an_index_change_uses_the_items_both_waves_have(tmp_path) -> None:
    folder = definitions_with(
        tmp_path,
        {
            "id": "st",
            "title": "Staff",
            "audience": "staff",
            "scales": {"agree5": AGREE5},
            "questions": [
                {
                    "id": f"S{i}",
                    "text": f"S{i}",
                    "scale": "agree5",
                    "outcomes": ["O3"],
                    "index": "culture",
                }
                for i in (1, 2)
            ],
        },
    )
    rng = np.random.default_rng(3)
    s1 = list(rng.integers(1, 6, 120))
    s2 = list(rng.integers(4, 6, 60)) + [None] * 60  # nobody answered S2 in the second wave
    frame = export_frame("st", "staff", ["A"] * 60 + ["B"] * 60, {"S1": s1, "S2": s2})
    results = analysis.run(frame, folder, min_n=1)
    change = results.changes.query("level == 'index'").iloc[0]
    score = (np.array(s1, dtype=float) - 1) / 4 * 100  # the index on S1 alone
    assert change["estimate_from"] == pytest.approx(score[:60].mean())
    assert change["estimate_to"] == pytest.approx(score[60:].mean())
    assert change["note"] == "on the items in both waves; left out S2 (no valid answers in B)"
    wave_a = results.indicators.query("level == 'index' and wave == 'A'").iloc[0]
    assert wave_a["estimate"] != pytest.approx(
        change["estimate_from"]
    )  # the wave's own figure uses S2
    outcome = results.changes.query("level == 'outcome'").iloc[0]
    assert outcome["estimate_from"] == pytest.approx(100 * np.mean(np.array(s1[:60]) >= 4))


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def staff(tmp_path: Path) -> Path:
    return definitions_with(
        tmp_path,
        {
            "id": "pulse",
            "title": "Pulse",
            "audience": "staff",
            "scales": {"agree5": AGREE5},
            "questions": [{"id": "Q1", "text": "One", "scale": "agree5", "outcomes": ["O1"]}],
        },
    )


def _staff(n: int = 20, **columns) -> pd.DataFrame:
    frame = export_frame("pulse", "staff", ["W"] * n, {"Q1": [(i % 5) + 1 for i in range(n)]})
    return frame.assign(**columns)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: f.assign(response_id=["r0", "r1", "r0"] + list(f["response_id"][3:])),
            "column response_id is duplicated at rows 0, 2 (e.g. 'r0')",
        ),
        (
            lambda f: f.assign(weight=[None] + ["1.5"] * (len(f) - 1)),
            "column weight is blank at row 0 while other pulse rows have a weight",
        ),
        (
            lambda f: f.assign(weight=["inf"] + ["1.5"] * (len(f) - 1)),
            "column weight must be a finite positive number at row 0",
        ),
        (
            lambda f: f.assign(weight=["nan"] + ["1.5"] * (len(f) - 1)),
            "column weight must be a finite positive number at row 0",
        ),
    ],
)
def test_bad_input_that_changed_results_silently_now_fails(staff, change, message) -> None:
    with pytest.raises(ValueError) as caught:
        analysis.run(change(_staff()), staff)
    assert message in str(caught.value)


def test_an_absurd_weight_is_a_warning_and_shows_in_deff(staff) -> None:
    weights = ["1"] * 19 + ["5000"]
    results = analysis.run(_staff(weight=weights), staff, min_n=1)
    notes = results.notes["note"]
    assert notes.str.startswith("weight over 1,000 times the median (1) at row 19").any()
    assert results.indicators.iloc[0]["n_eff"] < 1.01  # Kish: one respondent's worth of information


def test_a_semicolon_separated_file_says_so(tmp_path) -> None:
    path = tmp_path / "responses.csv"
    _staff().to_csv(path, index=False, sep=";")
    with pytest.raises(ValueError, match="separated by semicolons"):
        analysis.read_responses(path)


def test_cli_writes_notes_and_counts_them(tmp_path, residents) -> None:
    csv = tmp_path / "responses.csv"
    resident_wave("2026-Q4", ["35-54", "55 and over", None], ["Female", "Male", "Female"]).to_csv(
        csv, index=False
    )
    pop = tmp_path / "population.csv"
    population().to_csv(pop, index=False)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.cli",
            "indicators",
            "--responses",
            str(csv),
            "--instruments",
            str(residents),
            "--population",
            str(pop),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    notes = pd.read_csv(out / "notes.csv", dtype=str)
    assert list(notes.columns) == NOTE_COLUMNS
    assert f"{len(notes)} notes" in result.stderr
    assert "note: res 2026-Q4: raking: age_band: no respondents in '16-34'" in result.stderr
    assert (
        (out / "designs.csv")
        .read_text()
        .startswith("instrument,audience,wave,respondents,audience_size,fpc")
    )


@settings(deadline=None, max_examples=60)
@given(
    ages=st.lists(st.sampled_from([*AGES, None, "Prefer not to say"]), min_size=2, max_size=30),
    data=st.data(),
)
def test_fitted_margins_keep_the_population_and_the_unstated_share(ages, data) -> None:
    sexes = data.draw(
        st.lists(st.sampled_from(["Female", "Male"]), min_size=len(ages), max_size=len(ages))
    )
    start = np.array(
        data.draw(st.lists(st.floats(0.5, 3.0), min_size=len(ages), max_size=len(ages)))
    )
    columns = pd.DataFrame({"age_band": ages, "sex": sexes})
    fitted = wave_margins(columns, start, MARGINS, {"age_band": AGES})
    for variable, margin in fitted.margins.items():
        assert sum(margin.values()) == pytest.approx(128_000)
        assert len(margin) >= 2
        assert set(fitted.columns[variable]) <= set(margin)
    unstated = columns["age_band"].isna() | columns["age_band"].eq("Prefer not to say")
    if "age_band" in fitted.margins and unstated.any():
        share = start[unstated.to_numpy()].sum() / start.sum()
        assert fitted.margins["age_band"]["(not stated)"] == pytest.approx(share * 128_000)
        try:
            weights = rake(fitted.columns, fitted.margins, weights=start).to_numpy()
        except ValueError:  # margins the sample cannot meet: that wave becomes a note
            return
        assert weights[unstated.to_numpy()].sum() / weights.sum() == pytest.approx(share, rel=1e-6)
