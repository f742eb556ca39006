"""The demo council and the export contract (the analysis input file)."""

from __future__ import annotations

import csv
import io

import pandas as pd
from sqlalchemy import select

from analysis.text import WITHHELD
from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.export import FIXED_COLUMNS, responses_frame
from survey_app.extensions import db
from survey_app.models import Answer, FlagStatus, Response, SafeguardingFlag


def test_export_round_trips_every_stored_answer(db_app) -> None:
    with db_app.app_context():
        counts = seed_demo(load_definitions(), seed=7)
        frame = responses_frame()
        stored = db.session.execute(
            select(Answer.response_id, Answer.question_id, Answer.value)
        ).all()
        n_responses = db.session.scalar(select(db.func.count()).select_from(Response))
        withheld = set(
            db.session.execute(
                select(SafeguardingFlag.response_id, SafeguardingFlag.question_id).where(
                    SafeguardingFlag.status == FlagStatus.OPEN
                )
            ).all()
        )
    assert counts["responses"] == n_responses == len(frame) and frame["response_id"].is_unique
    assert list(frame.columns[: len(FIXED_COLUMNS)]) == FIXED_COLUMNS
    assert withheld  # the demo has comments awaiting the safeguarding reviewer
    indexed = frame.set_index("response_id")
    definitions = load_definitions()
    multi = {
        q.id: len(q.choices or [])
        for i in definitions.instruments.values()
        for q in i.questions
        if q.type == "multi"
    }
    assert multi  # the routed resident survey has one
    for response_id, question_id, value in stored:
        if question_id in multi:  # one column per choice: 1/0 of the ticked positions, or na
            cells = [
                indexed.at[response_id, f"{question_id}_{p}"]
                for p in range(1, multi[question_id] + 1)
            ]
            ticked = {int(p) for p in value.split(",")} if value != "na" else set()
            assert cells == (
                ["na"] * len(cells)
                if value == "na"
                else ["1" if p in ticked else "0" for p in range(1, len(cells) + 1)]
            )
            continue
        # a comment with an open safeguarding flag leaves the app only as the placeholder
        expected = WITHHELD if (response_id, question_id) in withheld else value
        assert indexed.at[response_id, question_id] == expected
    # nothing in the file that was not stored: count the non-blank answer cells (a multi
    # question's columns are blank together, so its first column counts it)
    question_ids = {q.id for i in definitions.instruments.values() for q in i.answer_items}
    question_ids |= {f"{q}_1" for q in multi}
    answer_cells = frame[[c for c in frame.columns if c in question_ids]].notna().to_numpy().sum()
    assert answer_cells == len(stored)
    assert (frame["V10"] == "na").any()  # not asked, stored and exported as such


def test_export_codes_and_columns(app) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=3)
        frame = responses_frame()
    residents = frame[frame["instrument"] == "resident-perception"]
    # channel and event, then each instrument's "about you" attributes (instruments in id
    # order, each attribute once), then the questions
    definitions = load_definitions()
    expected = ["channel", "event"]
    for instrument_id in sorted(definitions.instruments):
        expected += [
            a.id for a in definitions.instruments[instrument_id].attributes if a.id not in expected
        ]
    assert list(frame.columns[len(FIXED_COLUMNS) : len(FIXED_COLUMNS) + len(expected)]) == expected
    assert {"age_band", "sex", "ward", "directorate", "grade", "sector"} <= set(expected)
    first_question = definitions.instruments[min(definitions.instruments)].questions[0].id
    assert frame.columns[len(FIXED_COLUMNS) + len(expected)] == first_question
    assert set(residents["P03"].dropna()) <= {"1", "2", "3", "4", "dk"}
    assert residents["P03"].isna().any() and (residents["P03"] == "dk").any()
    assert residents["audience"].eq("residents").all()
    assert residents["version"].str.len().eq(64).all()
    roadshow = frame[frame["instrument"] == "staff-roadshow"]
    assert (
        roadshow["event"].notna().all()
        and frame.loc[frame["instrument"] != "staff-roadshow", "event"].isna().all()
    )
    assert set(frame["wave"]) == {"2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"}
    assert pd.to_datetime(frame["submitted_on"]).notna().all()


def test_demo_is_deterministic_given_a_seed(tmp_path) -> None:
    from flask_migrate import upgrade

    from tests.conftest import make_app

    exports = []
    for run in range(2):
        app = make_app(f"sqlite:///{tmp_path / f'{run}.db'}")
        with app.app_context():
            upgrade()
            seed_demo(load_definitions(), seed=11)
            frame = responses_frame().drop(columns=["version"])
            exports.append(frame.sort_values("response_id").reset_index(drop=True))
            db.session.remove()
            db.engine.dispose()
    pd.testing.assert_frame_equal(exports[0], exports[1])


def test_demo_indicators_move_over_time(app) -> None:
    """Some outcomes improve, one falls (O10, the budget): check on raw % positive."""
    with app.app_context():
        seed_demo(load_definitions(), seed=5)
        frame = responses_frame()
    members = frame[frame["instrument"] == "resident-perception"]

    def positive(item: str) -> pd.Series:
        answered = members[members[item].isin(["1", "2", "3", "4", "5"])]
        return answered.groupby("wave")[item].apply(lambda s: s.isin(["4", "5"]).mean())

    improving, falling = positive("P06"), positive("P07")  # O5 improves; P07 is O10
    assert improving.iloc[-1] > improving.iloc[0] + 0.05
    assert falling.iloc[-1] < falling.iloc[0] - 0.05


def test_demo_and_export_cli(runner, tmp_path) -> None:
    result = runner.invoke(args=["demo", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.example" in result.output and "Seeded the demo council" in result.output
    again = runner.invoke(args=["demo", "--base-url", "http://127.0.0.1:8080/"])
    assert "already holds waves" in again.output
    assert "Staff sign-in: http://127.0.0.1:8080/auth/sign-in" in again.output
    out = tmp_path / "export.csv"
    result = runner.invoke(
        args=[
            "export",
            "responses",
            "--wave",
            "2026-Q3",
            "--instrument",
            "member-pulse",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows and {r["wave"] for r in rows} == {"2026-Q3"}
    assert {r["instrument"] for r in rows} == {"member-pulse"}
    bad = runner.invoke(args=["export", "responses", "--wave", "1999-Q1"])
    assert bad.exit_code != 0 and "no wave matches" in bad.output
    missing = runner.invoke(args=["export", "responses", "--out", str(tmp_path / "no" / "x.csv")])
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_the_demo_councillor_reads_the_scorecard_and_changes_nothing(app, runner) -> None:
    from survey_app.demo import DEMO_USERS

    from .helpers import csrf, sign_in

    result = runner.invoke(args=["demo", "--seed", "2"])
    councillor = next(u for u in DEMO_USERS if u.role.value == "viewer")
    assert f"viewer:       {councillor.email} / {councillor.password}" in result.output
    client = app.test_client()
    sign_in(client, councillor.email, councillor.password)
    page = client.get("/dashboard/")
    # a viewer reads the published figures of the demo's closed waves, not the latest results
    assert page.status_code == 200 and "Published figures of" in page.get_data(as_text=True)
    assert (
        client.post(
            "/dashboard/recompute", data={"csrf_token": csrf(client, "/dashboard/")}
        ).status_code
        == 403
    )
    assert client.get("/programme/waves/new").status_code == 403


def test_instruments_cli_show_load_diff(runner) -> None:
    show = runner.invoke(args=["instruments", "show", "member-pulse"])
    assert show.exit_code == 0 and "M05" in show.output and "reverse" in show.output
    unknown = runner.invoke(args=["instruments", "show", "nope"])
    assert unknown.exit_code != 0 and "unknown instrument 'nope'" in unknown.output
    not_loaded = runner.invoke(args=["instruments", "diff", "member-pulse"])
    assert not_loaded.exit_code != 0 and "instruments load" in not_loaded.output
    loaded = runner.invoke(args=["instruments", "load"])
    assert loaded.output.count("added") == 6
    assert runner.invoke(args=["instruments", "load"]).output.count("known") == 6
    same = runner.invoke(args=["instruments", "diff", "member-pulse"])
    assert "identical versions" in same.output


def test_demo_comments_are_redacted_at_ingest(app) -> None:
    import re

    with app.app_context():
        seed_demo(load_definitions(), seed=4)
        frame = responses_frame()
    text_columns = [
        q.id
        for i in load_definitions().instruments.values()
        for q in i.questions
        if q.type == "text"
    ]
    comments = frame[text_columns].stack().dropna().astype(str)
    assert len(comments) > 500
    assert not comments.str.contains(r"[\w.+-]+@[\w-]+\.[\w.]+", regex=True).any()
    assert not comments.str.contains(r"\b0\d{3,4}\s?\d{3}\s?\d{3,4}\b", regex=True).any()
    placeholders = set(re.findall(r"\[(email|phone|postcode|name|url)\]", " ".join(comments)))
    assert placeholders, "the demo comments that mention contact details show placeholders"
