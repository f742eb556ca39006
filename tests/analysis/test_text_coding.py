"""Automatic coding by the codebook, its evaluation against the hand-coded sample, and the
demo comment banks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.text.coding import code_comments, theme_lists
from analysis.text.evaluate import EVALUATION_COLUMNS, evaluate_codebook, read_hand_coded
from analysis.text.samples import DEMO_COMMENTS
from instruments import Codebook, load_definitions

SAMPLE = Path(__file__).parent / "data" / "comments_sample.csv"

CODEBOOK = Codebook.model_validate(
    {
        "themes": [
            {
                "id": "budget",
                "label": "Money",
                "include": ["budget*", "council tax", "re:£\\s?\\d"],
                "exclude": ["re:\\btime budget\\b"],
            },
            {"id": "systems", "label": "IT", "include": ["laptop*", "re:\\b(?-i:IT)\\b", "log in"]},
            {"id": "thanks", "label": "Thanks", "include": ["thank*"], "exclude": ["no thanks"]},
        ]
    }
)


def test_rules_several_themes_and_vetoes() -> None:
    comments = pd.Series(
        [
            "Council tax is up £50 and my laptop is broken",
            "The BUDGETS are a mess",
            "it is what it is",  # "it" is not "IT": the regex is case-sensitive
            "IT cannot log  in",
            "My time budget is fine, no thanks",  # both vetoed
            "Thankful for the help",
            "budgetary",
            "The councilor tax",  # a phrase is whole words
            None,
            "",
        ],
        index=range(10, 20),
    )
    coded = code_comments(comments, CODEBOOK)
    assert list(coded.columns) == ["budget", "systems", "thanks"] and list(coded.index) == list(
        range(10, 20)
    )
    assert theme_lists(coded).tolist() == [
        ["budget", "systems"],
        ["budget"],
        [],
        ["systems"],
        [],
        ["thanks"],
        ["budget"],
        [],
        [],
        [],
    ]
    assert coded.dtypes.eq(bool).all()


def test_coding_many_comments_is_vectorised_and_consistent() -> None:
    rng = np.random.default_rng(0)
    words = ["council", "tax", "laptop", "budget", "thanks", "road", "IT", "it", "no", "the"]
    many = pd.Series([" ".join(rng.choice(words, 6)) for _ in range(20_000)])
    coded = code_comments(many, CODEBOOK)
    for k in rng.choice(len(many), 50, replace=False):
        assert coded.iloc[k].to_dict() == code_comments([many[k]], CODEBOOK).iloc[0].to_dict()


def test_the_sample_is_hand_coded_with_at_least_100_comments() -> None:
    sample = read_hand_coded(SAMPLE)
    assert len(sample) >= 100 and sample["id"].is_unique
    assert set(sample["audience"]) == {"members", "staff", "residents", "partners"}
    codebook = load_definitions().codebook
    assert {t for ts in sample["themes"] for t in ts} == set(codebook.theme_ids)


def test_evaluation_reports_precision_and_recall_per_theme() -> None:
    codebook = load_definitions().codebook
    table = evaluate_codebook(read_hand_coded(SAMPLE), codebook)
    assert list(table.columns) == EVALUATION_COLUMNS
    assert table["theme"].tolist() == [*codebook.theme_ids, "micro", "macro"]
    themes = table.iloc[: len(codebook.theme_ids)]
    assert (themes["tp"] + themes["fn"] == themes["support"]).all()
    for column in ("precision", "recall", "f1"):
        assert table[column].between(0, 1).all(), column
    micro = table.set_index("theme").loc["micro"]
    assert micro["precision"] == pytest.approx(micro["tp"] / (micro["tp"] + micro["fp"]))


def test_evaluation_command_prints_the_table(capsys) -> None:
    from analysis.text.evaluate import main

    assert main([str(SAMPLE)]) == 0
    printed = capsys.readouterr().out
    assert (
        printed.split()[:9] == EVALUATION_COLUMNS
        and "recognition" in printed
        and "micro" in printed
    )


def test_evaluation_arithmetic_on_a_tiny_sample() -> None:
    sample = pd.DataFrame(
        {
            "comment": ["council tax", "laptop budget", "nothing", "thanks"],
            "themes": [["budget"], ["systems"], ["budget"], []],
        }
    )
    table = evaluate_codebook(sample, CODEBOOK).set_index("theme")
    assert table.loc["budget", ["tp", "fp", "fn"]].tolist() == [1, 1, 1]
    assert table.loc["budget", "precision"] == 0.5 and table.loc["budget", "recall"] == 0.5
    assert table.loc["systems", "recall"] == 1 and np.isnan(table.loc["thanks", "recall"])
    assert table.loc["thanks", "precision"] == 0
    with pytest.raises(ValueError, match="not in the codebook: nope"):
        evaluate_codebook(sample.assign(themes=[["nope"]] * 4), CODEBOOK)


def test_demo_comments_come_from_the_sample() -> None:
    sample = read_hand_coded(SAMPLE)
    assert set(DEMO_COMMENTS) == {"members", "staff", "residents", "partners"}
    for audience, comments in DEMO_COMMENTS.items():
        assert len(comments) >= 20
        assert set(comments) <= set(sample.loc[sample["audience"] == audience, "comment"])
