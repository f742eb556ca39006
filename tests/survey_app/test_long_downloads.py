"""Every drill-down and indices download is long (issue 17 section 3): one row per question,
breakdown group or index and wave, with n, estimate, CI, the change into the wave with its p
and p (BH), MDC and significance, and a measure's target, trajectory and status. Read back
through HTTP as CSV and as Excel and checked against the stored results: a suppressed group
is blank, a change across a reworded question is "not compared" with no p-value."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from flask_migrate import upgrade
from sqlalchemy import select

from instruments import SHIPPED_DIR, load_definitions
from survey_app.demo import seed_demo
from survey_app.display import rounded
from survey_app.extensions import db
from survey_app.models import AnalysisResult, Role
from survey_app.results import compute_results, table

from ..conftest import make_app
from .helpers import add_user, reword_in_wave, shrink_ward, sign_in

ITEMS = "/dashboard/outcomes/O12/residents/resident-perception/items"
WARDS = "/dashboard/outcomes/O12/residents/resident-perception/by-ward"
FIGURES = ["n", "estimate", "ci_low", "ci_high", "change", "p_value", "p_adj", "mdc"]
LONG = ["wave", "n", "estimate", "ci_low", "ci_high", "suppressed", "change", "p_value"]
LONG += ["p_adj", "mdc", "significance"]
STATUS = ["measure", "target", "trajectory", "status", "reason"]
# a measure of one question, so the items download carries a target and a status too
SATISFIED = {
    "id": "O12-satisfied-residents",
    "type": "survey",
    "title": "Residents satisfied with the way the council runs things",
    "audience": "residents",
    "instrument": "resident-perception",
    "level": "item",
    "item": "P01",
    "baseline": 10,
    "target": 30,
    "target_date": "2027-03-31",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[object]:
    """The demo council with a measure on question P01, P01 reworded for 2026-Q3 and four
    respondents left in Rural East in 2026-Q3 (below the minimum of 10); results computed."""
    root = tmp_path_factory.mktemp("long")
    folder = root / "definitions"
    shutil.copytree(SHIPPED_DIR, folder)
    path = folder / "framework.yaml"
    framework = yaml.safe_load(path.read_text(encoding="utf-8"))
    outcome = next(
        o
        for p in framework["priorities"]
        for o in [
            *p.get("outcomes", []),
            *(o for w in p.get("workstreams", []) for o in w["outcomes"]),
        ]
        if o["id"] == "O12"
    )
    outcome["measures"].append(SATISFIED)
    path.write_text(yaml.safe_dump(framework, sort_keys=False), encoding="utf-8")
    app = make_app(f"sqlite:///{root / 'pulse.db'}", INSTRUMENTS_DIR=str(folder))
    with app.app_context():
        upgrade()
        seed_demo(load_definitions(Path(folder)), seed=2)
        reword_in_wave(
            "resident-perception",
            0,
            "All things considered, how satisfied are you with the council?",
            "2026-Q3",
        )
        shrink_ward("resident-perception", "2026-Q3", "Rural East", 4, "Grays and Chafford")
        compute_results()
    add_user(app, "analyst@council.example", Role.ANALYST)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def analyst(demo):
    client = demo.test_client()
    sign_in(client, "analyst@council.example")
    return client


def _csv(client, path: str) -> list[dict[str, str]]:
    response = client.get(f"{path}.csv")
    assert response.status_code == 200, path
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _xlsx(client, path: str) -> list[dict[str, object]]:
    response = client.get(f"{path}.xlsx")
    assert response.status_code == 200, path
    rows = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    values = rows.iter_rows(values_only=True)
    header = next(values)
    return [dict(zip(header, row, strict=True)) for row in values]


def _stored(app, name: str) -> pd.DataFrame:
    with app.app_context():
        result = db.session.scalar(select(AnalysisResult).order_by(AnalysisResult.id.desc()))
        return table(result, name)


def _shown(value, decimals: int = 0) -> str:
    """A stored figure as the CSV writes it at the page's precision ("" for a blank)."""
    shown = rounded(value, decimals)
    if shown is None:
        return ""
    shown += 0.0  # -0.0 (a rounded small fall) is written 0
    return f"{shown:.0f}" if decimals == 0 else str(shown)


def _expected(indicator: pd.Series, change: pd.Series | None) -> dict[str, str]:
    out = {c: _shown(indicator[c]) for c in ("n", "estimate", "ci_low", "ci_high")}
    for column, decimals in (("change", 0), ("p_value", 3), ("p_adj", 3), ("mdc", 0)):
        out[column] = "" if change is None else _shown(change[column], decimals)
    return out


def _change_into(changes: pd.DataFrame, indicator: pd.Series) -> pd.Series | None:
    """The stored change into an indicator row's wave, matched on every key."""
    found = changes[
        (changes["instrument"] == indicator["instrument"])
        & (changes["level"] == indicator["level"])
        & (changes["id"] == indicator["id"])
        & (changes["wave_to"] == indicator["wave"])
        & (
            changes["by"].isna()
            if pd.isna(indicator["by"])
            else (changes["by"] == indicator["by"]) & (changes["group"] == indicator["group"])
        )
    ]
    assert len(found) <= 1
    return None if found.empty else found.iloc[0]


def test_the_items_download_is_one_row_per_question_and_wave_with_the_stored_figures(
    demo, analyst
) -> None:
    rows = _csv(analyst, ITEMS)
    assert list(rows[0]) == ["question_id", "question", *LONG, *STATUS]
    indicators, changes = _stored(demo, "indicators"), _stored(demo, "changes")
    questions = {q.id for q in load_definitions().instrument("resident-perception").questions}
    stored = indicators[
        (indicators["instrument"] == "resident-perception")
        & (indicators["level"] == "item")
        & indicators["by"].isna()
        & indicators["id"].isin({r["question_id"] for r in rows})
    ]
    assert {r["question_id"] for r in rows} <= questions
    assert len(rows) == len(stored) > 8  # every question of O12 in each of the four waves
    checked = 0
    for _, indicator in stored.iterrows():
        row = next(
            r for r in rows if (r["question_id"], r["wave"]) == (indicator["id"], indicator["wave"])
        )
        change = _change_into(changes, indicator)
        assert {c: row[c] for c in FIGURES} == _expected(indicator, change), row
        checked += change is not None and pd.notna(change["p_adj"])
    assert checked >= 6  # real tests, not blanks
    # one question's rows in wave order, the first with no earlier wave
    p03 = [r for r in rows if r["question_id"] == "P03"]
    assert [r["wave"] for r in p03] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert p03[0]["significance"] == "not compared: no earlier wave" and p03[0]["p_adj"] == ""


def test_a_change_across_a_reworded_question_is_not_compared_and_has_no_p(demo, analyst) -> None:
    rows = {(r["question_id"], r["wave"]): r for r in _csv(analyst, ITEMS)}
    reworded, before = rows[("P01", "2026-Q3")], rows[("P01", "2026-Q2")]
    assert reworded["significance"].startswith("not compared: ")
    assert reworded["p_value"] == reworded["p_adj"] == reworded["mdc"] == ""
    assert reworded["n"] and reworded["estimate"]  # the wave itself is reported
    assert before["p_adj"] != "" and not before["significance"].startswith("not compared")
    excel = next(
        r for r in _xlsx(analyst, ITEMS) if (r["question_id"], r["wave"]) == ("P01", "2026-Q3")
    )
    assert excel["p_value"] is None and excel["p_adj"] is None
    assert excel["significance"] == reworded["significance"]


def test_a_question_that_is_a_measure_carries_its_target_trajectory_and_status(
    demo, analyst
) -> None:
    rows = [r for r in _csv(analyst, ITEMS) if r["question_id"] == "P01"]
    assert {r["measure"] for r in rows} == {"O12-satisfied-residents"}
    assert {r["target"] for r in rows} == {"30"}
    # from 10% at the first wave's close to 30% by 31 Mar 2027: the baseline at the first wave
    assert rows[0]["trajectory"] == "10" and float(rows[-1]["trajectory"]) > 10
    assert all(r["status"] in {"Target met", "On track", "Close", "Off track"} for r in rows)
    others = [r for r in _csv(analyst, ITEMS) if r["question_id"] != "P01"]
    assert others and all(r["measure"] == r["status"] == r["target"] == "" for r in others)
    # the latest wave's status is the scorecard's for this measure
    scorecard = next(
        r for r in _csv(analyst, "/dashboard/scorecard") if r["measure"] == SATISFIED["id"]
    )
    assert (rows[-1]["status"], rows[-1]["trajectory"], rows[-1]["estimate"]) == (
        scorecard["status"],
        scorecard["trajectory"],
        scorecard["estimate"],
    )


def test_a_suppressed_group_is_blank_in_the_breakdown_download(demo, analyst) -> None:
    rows = _csv(analyst, WARDS)
    assert list(rows[0]) == ["outcome", "by", "group", *LONG]
    indicators, changes = _stored(demo, "indicators"), _stored(demo, "changes")
    stored = indicators[
        (indicators["instrument"] == "resident-perception")
        & (indicators["level"] == "outcome")
        & (indicators["id"] == "O12")
        & (indicators["by"] == "ward")
    ]
    assert len(rows) == len(stored)
    for _, indicator in stored.iterrows():
        row = next(
            r for r in rows if (r["group"], r["wave"]) == (indicator["group"], indicator["wave"])
        )
        assert row["suppressed"] == str(bool(indicator["suppressed"]))
        assert {c: row[c] for c in FIGURES} == _expected(
            indicator, _change_into(changes, indicator)
        )
    rural = next(r for r in rows if (r["group"], r["wave"]) == ("Rural East", "2026-Q3"))
    assert rural["suppressed"] == "True" and all(rural[c] == "" for c in FIGURES)
    assert rural["significance"].startswith("not compared")
    excel = [r for r in _xlsx(analyst, WARDS) if r["wave"] == "2026-Q3" and r["suppressed"]]
    assert {"Rural East"} < {r["group"] for r in excel}  # and the next smallest with it
    assert all(r[c] is None for r in excel for c in FIGURES)


def test_the_indices_download_is_long_with_changes_and_the_index_measures_status(
    demo, analyst
) -> None:
    rows = _csv(analyst, "/dashboard/indices")
    first = ["instrument", "audience", "wave", "index", "n", "estimate", "ci_low", "ci_high"]
    first += ["suppressed", "alpha", "alpha_low", "alpha_high"]
    assert list(rows[0]) == [*first, "change", "p_value", "p_adj", "mdc", "significance", *STATUS]
    indicators, changes = _stored(demo, "indicators"), _stored(demo, "changes")
    stored = indicators[(indicators["level"] == "index") & indicators["by"].isna()]
    assert len(rows) == len(stored)
    for _, indicator in stored.iterrows():
        row = next(
            r
            for r in rows
            if (r["instrument"], r["index"], r["wave"])
            == (indicator["instrument"], indicator["id"], indicator["wave"])
        )
        assert {c: row[c] for c in FIGURES} == _expected(
            indicator, _change_into(changes, indicator)
        )
    culture = [r for r in rows if (r["instrument"], r["index"]) == ("staff-pulse", "culture")]
    assert {r["measure"] for r in culture} == {"O4-culture-staff"}
    scorecard = next(
        r for r in _csv(analyst, "/dashboard/scorecard") if r["measure"] == "O4-culture-staff"
    )
    latest = next(r for r in culture if r["wave"] == scorecard["wave"])
    assert (latest["status"], latest["trajectory"], latest["p_adj"]) == (
        scorecard["status"],
        scorecard["trajectory"],
        scorecard["p_adj"],
    )
    members = [r for r in rows if r["instrument"] == "member-pulse"]
    assert members and all(r["measure"] == r["status"] == "" for r in members)
    excel = _xlsx(analyst, "/dashboard/indices")
    assert len(excel) == len(rows) and any(isinstance(r["p_adj"], float) for r in excel)


@pytest.mark.parametrize(
    ("instrument", "measured"), [("resident-services", False), ("resident-perception", True)]
)
def test_the_trend_download_carries_the_changes_with_or_without_a_measure(
    demo, analyst, instrument: str, measured: bool
) -> None:
    """O12 for residents: the perception survey's score is a framework measure, the services
    survey's is not; both trends carry every wave's change and test."""
    rows = _csv(analyst, f"/dashboard/outcomes/O12/residents/{instrument}/trend")
    assert list(rows[0]) == [*LONG, "trajectory", "status", "reason"]
    indicators, changes = _stored(demo, "indicators"), _stored(demo, "changes")
    stored = indicators[
        (indicators["instrument"] == instrument)
        & (indicators["level"] == "outcome")
        & (indicators["id"] == "O12")
        & indicators["by"].isna()
    ]
    assert (
        [r["wave"] for r in rows]
        == list(stored["wave"])
        == ["2025-Q4", "2026-Q1"]
        + [
            "2026-Q2",
            "2026-Q3",
        ]
    )
    for row, (_, indicator) in zip(rows, stored.iterrows(), strict=True):
        assert {c: row[c] for c in FIGURES} == _expected(
            indicator, _change_into(changes, indicator)
        )
    compared = [r for r in rows[1:] if not r["significance"].startswith("not compared")]
    assert len(compared) >= 2 and all(r["p_adj"] and r["p_value"] for r in compared)
    # the perception survey's P01 was reworded for 2026-Q3: its score's change is not compared
    q3 = rows[-1]
    assert (q3["significance"].startswith("not compared") and q3["p_adj"] == "") is measured
    assert all(bool(r["status"]) is measured for r in rows), rows
