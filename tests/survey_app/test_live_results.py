"""Results on live data (issue 15): an uploaded instrument version is scored by its own
definition, a reworded question is never compared, and the export is a complete data
package for the CLI."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import numpy as np
import pandas as pd
from sqlalchemy import select

from instruments import SHIPPED_DIR, load_definitions
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Answer, InstrumentVersion, Response, Role, Wave, WaveMode
from survey_app.results import table

from .helpers import add_user, csrf, sign_in
from .test_programme import _upload_instrument

SHIPPED = (SHIPPED_DIR / "member-pulse.yaml").read_text()
REWORDED = SHIPPED.replace(
    "Officers withhold information from members.", "Officers keep information from members."
)
NEW_QUESTION = """  - id: M50
    section: Direction and purpose
    text: I can see the new direction in the decisions members take.
    scale: agree5
    outcomes: [O1]
"""


def _second_version() -> str:
    head, tail = REWORDED.split("questions:\n", 1)
    return f"{head}questions:\n{NEW_QUESTION}{tail}"


def _wave(
    version: InstrumentVersion, label: str, opens: dt.date, responses: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    wave = Wave(
        label=label,
        instrument_version=version,
        audience="members",
        mode=WaveMode.OPEN,
        opens_on=opens,
        closes_on=opens + dt.timedelta(days=20),
        audience_size=49,
    )
    db.session.add(wave)
    db.session.flush()
    questions = [q.id for q in version.instrument.scale_questions]
    for _ in range(responses):
        db.session.add(
            Response(
                wave_id=wave.id,
                submitted_on=opens,
                answers=[Answer(question_id=q, value=str(rng.integers(1, 6))) for q in questions],
            )
        )


def _two_versions_fielded(db_app, client) -> None:
    add_user(db_app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    with db_app.app_context():
        load_instruments(load_definitions())
    assert _upload_instrument(client, _second_version()).status_code == 302
    with db_app.app_context():
        first, second = db.session.scalars(
            select(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == "member-pulse")
            .order_by(InstrumentVersion.id)
        ).all()
        assert "M50" in {q.id for q in second.instrument.questions}
        _wave(first, "2026-Q1", dt.date(2026, 1, 5), 30, seed=1)
        _wave(second, "2026-Q2", dt.date(2026, 4, 6), 32, seed=2)
        db.session.commit()


def test_an_uploaded_version_is_scored_by_its_own_definition_and_never_compared_across(
    db_app,
) -> None:
    client = db_app.test_client()
    _two_versions_fielded(db_app, client)
    recomputed = client.post(
        "/dashboard/recompute", data={"csrf_token": csrf(client, "/dashboard/")}
    )
    assert recomputed.status_code == 302
    page = client.get("/dashboard/").get_data(as_text=True)
    # the job (run at once by the testing configuration) has finished: the page says so
    assert "UTC from 62 responses." in page
    with db_app.app_context():
        from survey_app.results import latest_results

        result, _ = latest_results()
        indicators, changes = table(result, "indicators"), table(result, "changes")
    overall = indicators[indicators["by"].isna()]
    assert sorted(overall.loc[overall["id"] == "M50", "wave"]) == [
        "2026-Q2"
    ]  # the new question, v2 only
    assert set(overall.loc[overall["id"] == "M05", "wave"]) == {"2026-Q1", "2026-Q2"}
    assert overall["fpc"].notna().all()  # an audience of 49: the finite population correction
    rows = changes[changes["by"].isna()].set_index(["level", "id"])
    assert not rows.loc[("item", "M05"), "comparable"]
    assert rows.loc[("item", "M05"), "note"].startswith("not comparable: wording of M05 changed")
    assert pd.isna(rows.loc[("item", "M05"), "p_value"])
    assert rows.loc[("outcome", "O5"), "note"].startswith(
        "not comparable: the coding of M05 changed"
    )
    assert rows.loc[("outcome", "O1"), "note"].startswith("not comparable: its questions changed")
    assert rows.loc[("item", "M01"), "comparable"]
    # the scorecard and the report say why the members' O5 change is not compared
    assert "not compared: not comparable: the coding of M05 changed" in page
    report = client.get("/dashboard/report.html").get_data(as_text=True)
    assert "not compared: not comparable: the coding of M05 changed" in report
    assert (
        "Design of each audience in 2026-Q2" in report
        and "applied (f = 0.65 of an audience of 49)" in report
    )


def test_export_with_definitions_is_a_data_package_for_the_cli(db_app, tmp_path) -> None:
    app = db_app
    client = app.test_client()
    _two_versions_fielded(app, client)
    csv, folder, out = tmp_path / "responses.csv", tmp_path / "definitions", tmp_path / "out"
    runner = app.test_cli_runner()
    exported = runner.invoke(
        args=["export", "responses", "--out", str(csv), "--definitions", str(folder)]
    )
    assert exported.exit_code == 0, exported.output
    files = sorted(p.name for p in folder.iterdir())
    assert "framework.yaml" in files and sum(f.startswith("member-pulse@") for f in files) == 2
    header = csv.read_text().splitlines()[0]
    assert header.startswith(
        "response_id,instrument,version,audience,wave,submitted_on,weight,audience_size,"
    )
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
    m05 = changes[(changes["id"] == "M05") & (changes["by"] == "")].iloc[0]
    assert m05["comparable"] == "false" and m05["p_value"] == ""
    assert "responses with version" not in result.stderr  # every response matched its own version


def test_a_thin_live_wave_is_noted_and_leaves_closed_waves_unchanged(db_app) -> None:
    app = db_app
    from survey_app.demo import seed_demo
    from survey_app.results import compute_results

    from .survey_helpers import answer_pages, full_answers, send

    with app.app_context():
        definitions = load_definitions()
        seed_demo(definitions, seed=2)
        before = table(compute_results(), "indicators")
        live = db.session.scalar(
            select(Wave)
            .join(InstrumentVersion)
            .where(
                InstrumentVersion.instrument_id == "resident-perception", Wave.label == "2026-Q4"
            )
        )
        slug, wave_id = live.slug, live.id
    residents = definitions.instrument("resident-perception")
    for seed, age in enumerate(["35-54", "55 and over", "Prefer not to say"]):  # nobody aged 16-34
        respondent = app.test_client()
        answers = full_answers(residents, seed) | {"age_band": age, "sex": "Female"}
        check = answer_pages(respondent, slug, residents, answers)
        assert send(respondent, slug, check).status_code in (302, 303)
    analyst = app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(analyst, "analyst@council.example")
    closed = analyst.post(
        f"/programme/waves/{wave_id}/close-now",
        data={"csrf_token": csrf(analyst, f"/programme/waves/{wave_id}/close-now")},
    )
    assert closed.status_code == 302
    # the wave closes tonight; the nightly `survey release` then releases its held answers
    # (`--all`: the whole wave is below the batch minimum, its figures are suppressed anyway)
    released = app.test_cli_runner().invoke(args=["survey", "release", "--all"])
    assert released.exit_code == 0, released.output
    with app.app_context():
        assert (
            db.session.scalar(
                select(db.func.count()).select_from(Response).where(Response.wave_id == wave_id)
            )
            == 3
        )
    recomputed = analyst.post(
        "/dashboard/recompute", data={"csrf_token": csrf(analyst, "/dashboard/")}
    )
    assert recomputed.status_code == 302
    with app.app_context():
        from survey_app.results import latest_results

        result, _ = latest_results()
        after, notes = table(result, "indicators"), table(result, "notes")

    def closed(t):
        return t[
            ~((t["instrument"] == "resident-perception") & (t["wave"] == "2026-Q4"))
        ].reset_index(drop=True)

    pd.testing.assert_frame_equal(closed(before), closed(after))
    live_notes = " | ".join(
        notes.loc[
            (notes["instrument"] == "resident-perception") & (notes["wave"] == "2026-Q4"), "note"
        ]
    )
    assert "age_band: no respondents in '16-34'; merged into '35-54' for this wave" in live_notes
    assert "sex: no respondents in 'Male'; merged into 'Female'" in live_notes
    assert "left it blank or preferred not to say" in live_notes
    page = analyst.get("/dashboard/").get_data(as_text=True)
    assert "no respondents in &#39;16-34&#39;; merged into &#39;35-54&#39;" in page
    assert (
        "further notes withheld: too few respondents to report" in page
    )  # counts of 3 people never shown


def test_a_wave_that_cannot_be_weighted_says_why_on_the_drilldown(db_app) -> None:
    app = db_app
    from survey_app.models import PopulationMargin

    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(
                InstrumentVersion.instrument_id == "resident-perception"
            )
        )
        wave = Wave(
            label="2026-Q1",
            instrument_version=version,
            audience="residents",
            mode=WaveMode.OPEN,
            opens_on=dt.date(2026, 1, 5),
            closes_on=dt.date(2026, 1, 30),
        )
        db.session.add(wave)
        db.session.flush()
        for i in range(12):
            db.session.add(
                Response(
                    wave_id=wave.id,
                    submitted_on=dt.date(2026, 1, 6),
                    attributes={"age_band": "16-34", "sex": "Female"}
                    if i % 2
                    else {"age_band": "55 and over", "sex": "Male"},
                    answers=[Answer(question_id="P01", value=str(i % 5 + 1))],
                )
            )
        # every young respondent is a woman and every older one a man: no weights can meet
        # both the age and the sex margins
        db.session.add_all(
            [
                PopulationMargin(audience="residents", variable=v, category=c, population=p)
                for v, c, p in [
                    ("age_band", "16-34", 41_000),
                    ("age_band", "35-54", 45_000),
                    ("age_band", "55 and over", 42_000),
                    ("sex", "Female", 65_500),
                    ("sex", "Male", 62_500),
                ]
            ]
        )
        db.session.commit()
    recomputed = app.test_cli_runner().invoke(args=["results"])
    assert recomputed.exit_code == 0, recomputed.output
    assert re.search(
        r"Computed results for 12 responses \(.* indicator rows, [1-9]\d* notes?\)",
        recomputed.output,
    )
    client = app.test_client()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/outcomes/O12/residents").get_data(as_text=True)
    assert "not estimated: could not be weighted: raking did not converge" in page
    assert "nan" not in page
    scorecard = client.get("/dashboard/").get_data(as_text=True)
    assert "not estimated: could not be weighted" in scorecard
    report = client.get("/dashboard/report.html").get_data(as_text=True)
    assert "not estimated: see the notes under Methodology" in report and ">nan" not in report
    assert (
        "could not be weighted: raking did not converge" in report
    )  # the methodology table's note
