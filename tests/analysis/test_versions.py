"""Version-aware analysis (issue 15, section 1): each response scored with the version it
answered, and no change or trend tested across a breaking difference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import analysis
from analysis.inference import benjamini_hochberg
from instruments import load_definitions

from .test_pipeline import AGREE5, definitions_with, export_frame

V1 = {
    "id": "pulse",
    "title": "Pulse",
    "audience": "staff",
    "scales": {"agree5": AGREE5},
    "questions": [
        {
            "id": "Q1",
            "text": "I trust the leadership.",
            "scale": "agree5",
            "outcomes": ["O4"],
            "index": "culture",
        },
        {
            "id": "Q2",
            "text": "I know the plan.",
            "scale": "agree5",
            "outcomes": ["O2"],
            "index": "confidence",
        },
        {
            "id": "Q3",
            "text": "I see the plan in my work.",
            "scale": "agree5",
            "outcomes": ["O2"],
            "index": "confidence",
        },
    ],
}
V2 = {
    **V1,
    "questions": [
        {
            **V1["questions"][0],
            "text": "I trust the senior leadership team.",
        },  # reworded: breaks Q1
        *V1["questions"][1:],
        {"id": "S50", "text": "New question", "scale": "agree5", "outcomes": ["O3"]},
    ],
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = definitions_with(tmp_path, V1)
    (folder / "pulse-v2.yaml").write_text(yaml.safe_dump(V2))
    return folder


def versions(folder: Path) -> tuple[str, str]:
    found = load_definitions(folder, versions=True).versions_of("pulse")
    by_text = {i.question("Q1").text: v for v, i in found.items()}
    return by_text[V1["questions"][0]["text"]], by_text[V2["questions"][0]["text"]]


def waves_on(folder: Path, n: int = 60) -> pd.DataFrame:
    v1, v2 = versions(folder)
    rng = np.random.default_rng(8)
    parts = []
    for k, (wave, version) in enumerate(
        [("2025-Q1", v1), ("2025-Q2", v2), ("2025-Q3", v2), ("2025-Q4", v2)]
    ):
        answers = {q: list(rng.integers(1, 6, n)) for q in ("Q1", "Q2", "Q3")}
        answers["S50"] = list(rng.integers(1, 6, n)) if version == v2 else [None] * n
        frame = export_frame("pulse", "staff", [wave] * n, answers)
        frame["version"] = version
        frame["response_id"] = [f"{k}-{i}" for i in range(n)]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def test_each_version_scores_its_own_questions(folder) -> None:
    results = analysis.run(waves_on(folder), folder)
    s50 = results.indicators.query("id == 'S50'")
    assert sorted(s50["wave"]) == ["2025-Q2", "2025-Q3", "2025-Q4"]
    assert not results.notes["note"].str.contains("scored with the one definition").any()


def test_a_reworded_question_is_not_compared(folder) -> None:
    results = analysis.run(waves_on(folder), folder)
    first = results.changes[results.changes["wave_from"] == "2025-Q1"].set_index(["level", "id"])
    q1 = first.loc[("item", "Q1")]
    assert q1["comparable"] is False or q1["comparable"] == False  # noqa: E712 - or a numpy False
    assert q1["note"].startswith("not comparable: wording of Q1 changed between versions")
    assert q1[["statistic", "p_value", "p_adj", "significant", "mdc"]].isna().all()
    assert not pd.isna(q1["change"])  # the figures themselves are still shown
    culture = first.loc[("index", "culture")]
    assert culture["note"].startswith("not comparable: the coding of Q1 changed")
    outcome = first.loc[("outcome", "O4")]
    assert outcome["comparable"] == False  # noqa: E712 - a numpy bool is not `is False`
    # the comparable rows form the BH family on their own
    tested = first[first["comparable"].eq(True)]
    assert set(tested.index) == {
        ("item", "Q2"),
        ("item", "Q3"),
        ("index", "confidence"),
        ("outcome", "O2"),
    }
    np.testing.assert_allclose(
        tested["p_adj"], benjamini_hochberg(tested["p_value"].to_numpy(float))
    )
    later = results.changes[results.changes["wave_from"] == "2025-Q2"]
    assert later["comparable"].astype(bool).all() and later["p_value"].notna().all()


def test_trends_run_only_after_the_last_break(folder) -> None:
    trends = analysis.run(waves_on(folder), folder).trends.set_index("id")
    assert trends.loc["Q1", "waves"] == "2025-Q2;2025-Q3;2025-Q4"
    assert trends.loc["Q2", "waves"] == "2025-Q1;2025-Q2;2025-Q3;2025-Q4"


def test_one_definition_scores_every_version_and_says_so(tmp_path) -> None:
    folder = definitions_with(tmp_path, V1)
    frame = export_frame(
        "pulse", "staff", ["W"] * 20, {"Q1": [4] * 20, "Q2": [2] * 20, "Q3": [5] * 20}
    )
    frame["version"] = ["abc123"] * 10 + [None] * 10
    results = analysis.run(frame, folder)
    note = results.notes["note"].iloc[0]
    assert note.startswith("20 responses with version abc123, blank scored with the one definition")
    assert results.indicators.query("id == 'Q1'")["estimate"].iloc[0] == 100


def test_several_definitions_and_an_unknown_version_is_an_error(folder) -> None:
    frame = waves_on(folder)
    frame.loc[5, "version"] = "ffff"
    with pytest.raises(
        ValueError, match=r"instrument pulse has versions .* but row 5 answered none of them"
    ):
        analysis.run(frame, folder)


def test_a_wave_is_never_pooled_across_versions(folder) -> None:
    frame = waves_on(folder)
    v1, v2 = versions(folder)
    frame.loc[frame["wave"] == "2025-Q2", "version"] = [v1, v2] * 30
    with pytest.raises(
        ValueError, match="wave 2025-Q2 of instrument pulse holds answers to several versions"
    ):
        analysis.run(frame, folder)


def test_cli_reads_a_folder_with_several_versions(folder, tmp_path) -> None:
    csv = tmp_path / "responses.csv"
    waves_on(folder).to_csv(csv, index=False)
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
            str(folder),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    changes = pd.read_csv(out / "changes.csv", dtype=str, keep_default_na=False)
    q1 = changes[(changes["id"] == "Q1") & (changes["wave_from"] == "2025-Q1")].iloc[0]
    assert q1["comparable"] == "false" and q1["note"].startswith("not comparable")
    assert q1["p_value"] == "" and q1["significant"] == ""


# ------------------------------------------------ the shipped pulses' "action" question (issue 18)

ACTION_QUESTIONS = {"staff-pulse": "S15", "member-pulse": "M16"}


@pytest.mark.parametrize("instrument_id", sorted(ACTION_QUESTIONS))
def test_the_action_question_keeps_the_indices_comparable(tmp_path, instrument_id) -> None:
    """The shipped staff and member pulses gained a question on whether the council will act
    on the results. It has no index and no outcome, so every index and outcome score is
    compared across the earlier version (the shipped file without it) and the new one, and
    the culture index of the new version is the one its index questions alone give."""
    shipped = load_definitions().instruments[instrument_id]
    added = ACTION_QUESTIONS[instrument_id]
    question = shipped.question(added)
    assert question.type == "scale" and question.index is None and not question.outcomes
    new = shipped.model_dump(mode="json", exclude_none=True)
    old = {**new, "questions": [q for q in new["questions"] if q["id"] != added]}
    folder = definitions_with(tmp_path, old)
    (folder / f"{instrument_id}-next.yaml").write_text(yaml.safe_dump(new))
    found = load_definitions(folder, versions=True).versions_of(instrument_id)
    assert len(found) == 2  # a new version, not the same one
    v_new = next(v for v, i in found.items() if added in {q.id for q in i.questions})
    v_old = next(v for v in found if v != v_new)

    scale_ids = [q.id for q in shipped.scale_questions]
    rng = np.random.default_rng(18)
    n, parts = 80, []
    for k, (wave, version) in enumerate([("2026-Q1", v_old), ("2026-Q2", v_new)]):
        answers = {q: list(rng.integers(1, 6, n)) for q in scale_ids}
        if version == v_old:
            answers[added] = [None] * n
        frame = export_frame(instrument_id, shipped.audience, [wave] * n, answers)
        frame["version"] = version
        frame["response_id"] = [f"{k}-{i}" for i in range(n)]
        parts.append(frame)
    data = pd.concat(parts, ignore_index=True)
    results = analysis.run(data, folder)

    changes = results.changes[results.changes["by"].isna()].set_index(["level", "id"])
    for level in ("index", "outcome"):
        rows = changes.xs(level, level="level")
        assert len(rows) >= 2 and rows["comparable"].astype(bool).all(), rows["note"]
        assert rows["p_value"].notna().all()
    assert ("item", added) not in changes.index  # asked in one version only: nothing to compare

    # the new version's culture index, by hand: per respondent the mean 0-100 score of the
    # culture questions answered (all are), then the mean over respondents
    culture_ids = [q.id for q in shipped.index_questions("culture")]
    assert added not in culture_ids
    second = data[data["wave"] == "2026-Q2"]
    scores = second[culture_ids].astype(int).sub(1).mul(25)
    for q in shipped.index_questions("culture"):
        if q.reverse:
            scores[q.id] = 100 - scores[q.id]
    expected = scores.mean(axis=1).mean()
    culture = results.indicators.query(
        "level == 'index' and id == 'culture' and wave == '2026-Q2' and by != by"
    )
    np.testing.assert_allclose(culture["estimate"].to_numpy(), [expected], rtol=0, atol=1e-9)
