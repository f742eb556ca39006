"""Finite population correction, design effects and weight trimming against R ``survey``.

The reference values come from ``tests/golden/fpc/fpc.R`` (R 4 with survey 4.1.1), run on
``fpc_responses.csv`` with the coding of ``tests/golden/fpc/definitions``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from instruments import SHIPPED_DIR

REL = 1e-6
KEYS = ["instrument", "wave", "level", "id", "group"]


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> Path:
    return golden_dir / "fpc"


@pytest.fixture(scope="module")
def definitions(golden: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fpc") / "definitions"
    shutil.copytree(golden / "definitions", folder)
    shutil.copy(SHIPPED_DIR / "framework.yaml", folder / "framework.yaml")
    return folder


@pytest.fixture(scope="module")
def responses(golden: Path) -> pd.DataFrame:
    return analysis.read_responses(golden / "fpc_responses.csv")


def _reference(golden: Path, case: str) -> pd.DataFrame:
    table = pd.read_csv(golden / "fpc_indicators.csv", keep_default_na=False, na_values=["NA"])
    # A group whose values are all equal has no variance: R divides rounding noise by rounding
    # noise (deff 1e31 or NaN), we report NaN.
    table.loc[table["deff"] > 1e6, "deff"] = np.nan
    return table[table["case"] == case].set_index(KEYS)


def _ours(results: analysis.Results) -> pd.DataFrame:
    table = results.indicators.assign(group=results.indicators["group"].fillna(""))
    return table.set_index(KEYS)


def _assert_matches(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(reference) > 100
    matched = ours.loc[reference.index]
    np.testing.assert_array_equal(matched["n"].to_numpy(float), reference["n"].to_numpy(float))
    for column in ("estimate", "se", "deff"):
        np.testing.assert_allclose(
            matched[column].to_numpy(float),
            reference[column].to_numpy(float),
            rtol=REL,
            atol=1e-9,
            err_msg=column,
        )


@pytest.mark.parametrize(
    "case, options",
    [
        ("fpc", {}),
        ("nofpc", {"fpc": False}),
        ("trim", {"trim_weights": (0.6, 1.8)}),
    ],
)
def test_items_indices_outcomes_and_domains_match_r(
    responses, definitions, golden, case, options
) -> None:
    results = analysis.run(responses, definitions, by=["role"], min_n=1, **options)
    _assert_matches(_ours(results), _reference(golden, case))


def test_fpc_column_and_effective_n(responses, definitions) -> None:
    table = analysis.run(responses, definitions, by=["role"], min_n=1).indicators
    census = table[(table["instrument"] == "census") & table["by"].isna()].set_index(
        ["wave", "level", "id"]
    )
    q1 = census.loc[("W1", "item", "Q1")]
    assert q1["fpc"] == pytest.approx(q1["n"] / 49)
    assert q1["n_eff"] == pytest.approx(q1["n"] / (1 - q1["n"] / 49))  # unweighted: Kish n = n
    low, high = analysis.pipeline.wilson_interval(q1["estimate"] / 100, q1["n_eff"])
    assert (q1["ci_low"], q1["ci_high"]) == (pytest.approx(low * 100), pytest.approx(high * 100))
    index = census.loc[("W1", "index", "confidence")]
    assert index["ci_low"] == pytest.approx(index["estimate"] - 1.959964 * index["se"])
    domain = table[
        (table["instrument"] == "census")
        & (table["wave"] == "W1")
        & (table["level"] == "item")
        & (table["id"] == "Q1")
        & table["by"].notna()
    ]
    assert (domain["fpc"] == q1["fpc"]).all()  # the audience-wave's f, never per-group sizes
    assert census.loc[("W3", "item", "Q1"), ["fpc"]].isna().all()  # no audience size: no FPC


def test_changes_use_the_corrected_standard_errors(responses, definitions, golden) -> None:
    changes = analysis.run(responses, definitions, by=["role"], min_n=1).changes
    ours = changes[(changes["instrument"] == "census") & (changes["wave_from"] == "W1")]
    ours = ours.assign(group=ours["group"].fillna("")).set_index(["level", "id", "group"])
    reference = pd.read_csv(
        golden / "fpc_changes.csv", keep_default_na=False, na_values=["NA"]
    ).set_index(["level", "id", "group"])
    matched = ours.loc[reference.index]
    for column in ("change", "statistic", "p_value", "mdc"):
        np.testing.assert_allclose(
            matched[column].to_numpy(float),
            reference[column].to_numpy(float),
            rtol=REL,
            err_msg=column,
        )
    assert matched["comparable"].all()


def test_without_audience_size_results_are_unchanged(responses, definitions) -> None:
    census = responses[responses["instrument"] == "census"]
    plain = analysis.run(census.drop(columns="audience_size"), definitions, by=["role"], min_n=1)
    blank = analysis.run(census.assign(audience_size=None), definitions, by=["role"], min_n=1)
    switched_off = analysis.run(census, definitions, by=["role"], min_n=1, fpc=False)
    for other in (blank, switched_off):
        pd.testing.assert_frame_equal(plain.indicators, other.indicators)
        pd.testing.assert_frame_equal(plain.changes, other.changes)
    assert plain.indicators["fpc"].isna().all()


def test_complete_census_has_no_sampling_error(responses, definitions) -> None:
    w1 = responses[(responses["instrument"] == "census") & (responses["wave"] == "W1")]
    answered = w1.assign(audience_size="40", Q1=w1["Q1"].where(w1["Q1"].isin(list("12345")), "4"))
    results = analysis.run(answered, definitions, min_n=1)
    complete = results.indicators[results.indicators["n"] == 40]  # Q1 and O1: f = 1
    assert len(complete)
    assert (complete["se"] == 0).all()
    np.testing.assert_allclose(complete["ci_low"], complete["estimate"])
    np.testing.assert_allclose(complete["ci_high"], complete["estimate"])


def test_more_respondents_than_the_audience_is_a_note_and_no_fpc(responses, definitions) -> None:
    w1 = responses[(responses["instrument"] == "census") & (responses["wave"] == "W1")]
    results = analysis.run(w1.assign(audience_size="30"), definitions, min_n=1)
    assert results.indicators["fpc"].isna().all()
    assert results.notes["note"].str.contains("40 respondents but an audience size of 30").any()


@pytest.mark.parametrize(
    "value, message",
    [
        ("-3", "audience_size must be a positive whole number or blank"),
        ("4.5", "audience_size must be a positive whole number or blank"),
    ],
)
def test_bad_audience_size_names_the_rows(responses, definitions, value, message) -> None:
    frame = responses.copy()
    frame.loc[frame.index[2], "audience_size"] = value
    with pytest.raises(ValueError, match=f"{message} at row 4"):
        analysis.run(frame, definitions)


def test_audience_size_must_be_one_per_wave(responses, definitions) -> None:
    frame = responses.copy()
    frame.loc[frame.index[0], "audience_size"] = "50"
    with pytest.raises(ValueError, match="audience_size differs within wave W1"):
        analysis.run(frame, definitions)


def test_trimmed_weights_match_r(golden) -> None:
    reference = (
        _reference(golden, "trim").xs(("weighted", "T1"), level=("instrument", "wave")).iloc[0]
    )
    frame = pd.read_csv(golden / "fpc_responses.csv", dtype=str)
    weights = frame.loc[frame["instrument"] == "weighted", "weight"].astype(float).to_numpy()
    trimmed = analysis.weighting.trim_weights(weights, 0.6 * weights.mean(), 1.8 * weights.mean())
    assert trimmed.min() == pytest.approx(reference["min_weight"], rel=REL)
    assert trimmed.max() == pytest.approx(reference["max_weight"], rel=REL)
    assert trimmed.sum() == pytest.approx(reference["sum_weight"], rel=1e-12)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis.cli", "indicators", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_no_fpc_and_trim_weights(golden, definitions, tmp_path) -> None:
    responses = str(golden / "fpc_responses.csv")
    for case, flags in (("nofpc", ["--no-fpc"]), ("trim", ["--trim-weights", "0.6,1.8"])):
        out = tmp_path / case
        result = _cli(
            "--responses",
            responses,
            "--instruments",
            str(definitions),
            "--by",
            "role",
            "--min-n",
            "1",
            "--out",
            str(out),
            *flags,
        )
        assert result.returncode == 0, result.stderr
        table = pd.read_csv(
            out / "indicators.csv", dtype={"group": str}, keep_default_na=False, na_values=[""]
        )
        ours = table.assign(group=table["group"].fillna("")).set_index(KEYS)
        _assert_matches(ours, _reference(golden, case))
    bad = _cli(
        "--responses",
        responses,
        "--instruments",
        str(definitions),
        "--trim-weights",
        "3",
        "--out",
        str(tmp_path / "bad"),
    )
    assert bad.returncode == 2 and "--trim-weights takes LOWER,UPPER" in bad.stderr
    inverted = _cli(
        "--responses",
        responses,
        "--instruments",
        str(definitions),
        "--trim-weights",
        "2,3",
        "--out",
        str(tmp_path / "bad"),
    )
    assert (
        inverted.returncode == 2
        and "trim_weights needs 0 <= LOWER <= 1 <= UPPER" in inverted.stderr
    )


def test_trends_are_unchanged_by_the_correction(responses, definitions) -> None:
    weighted = responses[responses["instrument"] == "weighted"]
    items = ["Q1", "Q2", "Q3", "Q4"]
    waves = []
    for shift, wave in enumerate(
        ("T1", "T2", "T3")
    ):  # the same weights, answers moved between people
        moved = weighted[items].apply(lambda column, s=shift: np.roll(column.to_numpy(), 17 * s))
        waves.append(
            weighted.assign(wave=wave, response_id=weighted["response_id"] + wave, **moved)
        )
    frame = pd.concat(waves)
    with_fpc = analysis.run(frame, definitions, min_n=1).trends
    without = analysis.run(frame, definitions, min_n=1, fpc=False).trends
    assert len(with_fpc) == 4 and (with_fpc["statistic"] > 0).all()
    pd.testing.assert_frame_equal(with_fpc, without)
