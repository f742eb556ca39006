"""Labelled SPSS (.sav) and Stata (.dta) exports of a routed survey: read back by pyreadstat
(and by R haven where R has it) with the question texts, value labels and the user-missing
don't know and not asked intact."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pyreadstat
import pytest

from survey_app.extensions import db
from survey_app.models import Answer, Response, Role

from .helpers import add_user, sign_in
from .survey_helpers import make_wave

ANSWERS = [
    {"V01": "1,2", "V02": "3", "V10": "4", "V11": "Yes", "V20": "dk", "V31": "5", "V90": "More"},
    {"V01": "5", "V02": "0", "V10": "na", "V11": "na", "V20": "na", "V31": "dk", "V90": "na"},
    {"V01": "3", "V10": "na", "V11": "na", "V20": "na", "V33": "2"},
]


def _wave(app) -> int:
    with app.app_context():
        wave = make_wave("resident-services")
        for number, answers in enumerate(ANSWERS):
            db.session.add(
                Response(
                    wave_id=wave.id,
                    submitted_on=dt.date(2026, 11, 3),
                    attributes={"ward": "Rural East"} if number == 0 else {"ward": "na"},
                    answers=[Answer(question_id=k, value=v) for k, v in answers.items()],
                )
            )
        db.session.commit()
        return wave.id


def _check_spss(path: Path) -> None:
    data, meta = pyreadstat.read_sav(str(path), user_missing=True)
    labels = meta.column_names_to_labels
    assert labels["V10"] == "How satisfied or dissatisfied are you with the library service?"
    assert labels["V01_1"].endswith(": Library")
    assert meta.variable_value_labels["V10"][4.0] == "Fairly satisfied"
    assert meta.variable_value_labels["V10"][-1.0] == "Don't know"
    assert meta.variable_value_labels["V10"][-2.0] == "Not asked"
    assert meta.variable_value_labels["V11"] == {
        1.0: "Yes",
        2.0: "No",
        -1.0: "Don't know",
        -2.0: "Not asked",
    }
    assert {(r["lo"], r["hi"]) for r in meta.missing_ranges["V10"]} == {(-1.0, -1.0), (-2.0, -2.0)}
    rows = data.sort_values("V02", na_position="last").reset_index(drop=True)
    assert rows["V10"].tolist()[:2] == [-2.0, 4.0]  # not asked; fairly satisfied
    assert rows.loc[1, "V20"] == -1.0  # don't know
    assert [rows.loc[1, f"V01_{p}"] for p in (1, 2, 3)] == [1.0, 1.0, 0.0]
    assert rows.loc[0, "V02"] == 0.0 and rows.loc[1, "V02"] == 3.0
    assert set(data["ward"]) == {5.0, -2.0}
    # without user_missing the missing codes read as missing: they never count as answers
    plain, _ = pyreadstat.read_sav(str(path))
    assert plain["V10"].notna().sum() == 1


def _check_stata(path: Path) -> None:
    data, meta = pyreadstat.read_dta(str(path), user_missing=True)
    assert meta.column_names_to_labels["V31"].startswith("How far do you agree")
    assert meta.variable_value_labels["V10"][4] == "Fairly satisfied"
    assert meta.variable_value_labels["V10"]["b"] == "Not asked"
    assert meta.missing_user_values["V10"] == ["b"]  # Stata lists the ones used
    assert meta.missing_user_values["V31"] == ["a"]
    assert sorted(map(str, data["V10"])) == ["4.0", "b", "b"]
    assert "a" in set(data["V31"]) and "b" in set(data["V11"])


def test_cli_writes_labelled_spss_and_stata_files(app, tmp_path: Path) -> None:
    _wave(app)
    runner = app.test_cli_runner()
    for fmt, check in (("sav", _check_spss), ("dta", _check_stata)):
        out = tmp_path / f"responses.{fmt}"
        result = runner.invoke(args=["export", "responses", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        check(out)
    refused = runner.invoke(args=["export", "responses", "--format", "sav"])
    assert refused.exit_code != 0 and "needs --out FILE" in refused.output


def test_export_page_downloads_labelled_files(app) -> None:
    wave_id = _wave(app)
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    assert sign_in(client, "analyst@council.example").status_code == 302
    page = client.get("/staff/exports").get_data(as_text=True)
    assert "Download SPSS (.sav)" in page and "Download Stata (.dta)" in page
    for fmt, check in (("sav", _check_spss), ("dta", _check_stata)):
        download = client.get(f"/staff/exports/responses.{fmt}?wave={wave_id}")
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].endswith(f".{fmt}")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"x.{fmt}"
            path.write_bytes(io.BytesIO(download.data).getvalue())
            check(path)


HAVEN = """
suppressPackageStartupMessages(library(haven))
args <- commandArgs(trailingOnly = TRUE)
sav <- read_sav(args[1], user_na = TRUE)
dta <- read_dta(args[2])
cat(attr(sav$V10, "label"), "\\n")
cat(names(attr(sav$V10, "labels")), sep = "|"); cat("\\n")
cat(attr(sav$V10, "na_values"), sep = "|"); cat("\\n")
cat(names(attr(dta$V10, "labels")), sep = "|"); cat("\\n")
cat(sum(is_tagged_na(dta$V10, "b")), "\\n")
"""


def test_r_haven_reads_the_labels(app, tmp_path: Path) -> None:
    rscript = shutil.which("Rscript")
    if (
        rscript is None
        or subprocess.run(
            [rscript, "-e", "library(haven)"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("R with the haven package (Debian r-cran-haven) is not installed")
    _wave(app)
    runner = app.test_cli_runner()
    for fmt in ("sav", "dta"):
        runner.invoke(
            args=["export", "responses", "--format", fmt, "--out", str(tmp_path / f"r.{fmt}")]
        )
    script = tmp_path / "read.R"
    script.write_text(HAVEN, encoding="utf-8")
    out = subprocess.run(
        [rscript, str(script), str(tmp_path / "r.sav"), str(tmp_path / "r.dta")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].strip() == "How satisfied or dissatisfied are you with the library service?"
    assert "Fairly satisfied" in out[1] and "Not asked" in out[1]
    assert set(out[2].split("|")) == {"-1", "-2"}
    assert "Not asked" in out[3]
    assert out[4].strip() == "2"
