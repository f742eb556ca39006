"""Heatmaps (issue 18, section 1): each group against the rest of its audience-wave.

The reference values come from ``tests/golden/heatmap/heatmap.R`` (R 4 with survey 4.1.1:
``svyby`` on the group and the rest, ``svycontrast`` for their difference, FPC and weights
included), run on ``heatmap_responses.csv`` with the coding of ``tests/golden/fpc/definitions``.
The subtraction tests attack the published counts of every table of a wave with linear
algebra: no suppressed cell may be determined by them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.heatmap import HEATMAP_COLUMNS
from instruments import SHIPPED_DIR

from ..subtraction import attack, published_counts

REL = 1e-6
KEYS = ["instrument", "wave", "level", "id", "by", "group"]
UNIT = ["instrument", "audience", "wave", "level", "id"]


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> Path:
    return golden_dir / "heatmap"


@pytest.fixture(scope="module")
def definitions(golden_dir: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("heatmap") / "definitions"
    shutil.copytree(golden_dir / "fpc" / "definitions", folder)
    shutil.copy(SHIPPED_DIR / "framework.yaml", folder / "framework.yaml")
    return folder


@pytest.fixture(scope="module")
def responses(golden: Path) -> pd.DataFrame:
    return analysis.read_responses(golden / "heatmap_responses.csv")


@pytest.fixture(scope="module")
def everything(responses, definitions) -> analysis.Results:
    return analysis.run(responses, definitions, by=["role", "role*grade"], min_n=1)


def test_one_and_two_way_cells_match_r_svyby_and_svycontrast(everything, golden) -> None:
    reference = pd.read_csv(
        golden / "heatmap_expected.csv", keep_default_na=False, na_values=["NA"]
    ).set_index(KEYS)
    ours = everything.heatmap.set_index(KEYS)
    assert len(reference) > 300
    assert {"role", "role*grade"} == set(reference.index.get_level_values("by"))
    # every cell R estimates is ours, and ours has no others but the groups without a rest
    matched = ours.loc[reference.index]
    assert (ours.drop(reference.index)["suppressed"]).all()
    assert not matched["suppressed"].any()
    np.testing.assert_array_equal(matched["n"].to_numpy(float), reference["n"].to_numpy(float))
    for column in (
        "estimate",
        "rest_estimate",
        "difference",
        "se_difference",
        "p_value",
        "p_adj",
    ):
        np.testing.assert_allclose(
            matched[column].to_numpy(float),
            reference[column].to_numpy(float),
            rtol=REL,
            atol=1e-9,
            err_msg=column,
        )
    expected = (reference["p_adj"] < 0.05).where(reference["p_adj"].notna())
    assert matched["significant"].tolist() == expected.tolist()
    assert matched["significant"].eq(True).any()
    assert matched["significant"].eq(False).any()


def test_a_cell_has_the_indicator_estimate_of_its_group(everything) -> None:
    indicators = everything.indicators.dropna(subset=["by"]).set_index(KEYS)
    cells = everything.heatmap.set_index(KEYS)
    shared = cells.index.intersection(indicators.index)
    assert len(shared) == len(cells)
    np.testing.assert_allclose(
        cells.loc[shared, "estimate"].to_numpy(float),
        indicators.loc[shared, "estimate"].to_numpy(float),
        rtol=1e-12,
    )


def test_cli_writes_heatmap_csv_with_its_columns(tmp_path, golden, definitions) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.cli",
            "indicators",
            "--responses",
            str(golden / "heatmap_responses.csv"),
            "--instruments",
            str(definitions),
            "--by",
            "role",
            "role*grade",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out / "heatmap.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == HEATMAP_COLUMNS
    assert set(table["by"]) == {"role", "role*grade"}
    assert "cabinet*A" in set(table["group"])
    assert set(table["suppressed"]) == {"true", "false"}
    hidden = table[table["suppressed"] == "true"]
    figures = ["n", "estimate", "rest_estimate", "difference", "se_difference", "p_value"]
    assert (hidden[figures] == "").all().all()
    assert set(hidden["significant"]) == {""}


def test_bad_breakdown_names_the_column(responses, definitions) -> None:
    with pytest.raises(ValueError, match="--by column floor is not in the responses"):
        analysis.run(responses, definitions, by=["role*floor"])


# --------------------------------------------------------------------------- subtraction


@pytest.mark.parametrize("min_n", [5, 10, 20])
def test_no_suppressed_cell_is_recoverable_by_subtraction(responses, definitions, min_n) -> None:
    results = analysis.run(responses, definitions, by=["role", "grade", "role*grade"], min_n=min_n)
    every_cell = analysis.run(responses, definitions, by=["role*grade"], min_n=1).heatmap
    cells_of = every_cell.groupby(UNIT)["group"].apply(list)
    assert results.heatmap["suppressed"].any()
    assert not results.heatmap["suppressed"].all()
    problems = []
    published = published_counts([results.indicators, results.heatmap], UNIT)
    for key, unit in published.groupby(UNIT):
        problems += [f"{key}: {p}" for p in attack(unit, cells_of.loc[key], min_n, "role*grade")]
    assert problems == []


def test_a_group_whose_rest_is_small_is_hidden(responses, definitions) -> None:
    wave = responses[(responses["instrument"] == "census") & (responses["wave"] == "W1")]
    almost_all = wave.assign(role=np.where(np.arange(len(wave)) < 6, "cabinet", "backbench"))
    results = analysis.run(almost_all, definitions, by=["role"], min_n=10)
    cells = results.heatmap[results.heatmap["level"] == "index"]
    # cabinet (6) is small; backbench is the rest of the audience, its rest is cabinet
    assert cells["suppressed"].all()


def test_audience_breakdowns_apply_to_that_audiences_instruments_only(
    responses, definitions, everything
) -> None:
    results = analysis.run(
        responses,
        definitions,
        by=["role"],
        min_n=1,
        audience_by={"members": ["role*grade"], "residents": ["grade*role"]},
    )
    by = results.heatmap.groupby("instrument")["by"].apply(set)
    # census is the members' survey, weighted the residents': each gets its own crossing
    assert by["census"] == {"role", "role*grade"}
    assert by["weighted"] == {"role", "grade*role"}
    # the same cells as the crossing asked for everyone with --by
    mine = results.heatmap[results.heatmap["instrument"] == "census"].set_index(KEYS)
    theirs = everything.heatmap[everything.heatmap["instrument"] == "census"].set_index(KEYS)
    pd.testing.assert_frame_equal(mine.sort_index(), theirs.sort_index())
    with pytest.raises(ValueError, match="--by column floor is not in the responses"):
        analysis.run(responses, definitions, audience_by={"members": ["role*floor"]})
