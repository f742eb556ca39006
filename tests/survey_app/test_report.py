"""The quarterly report: HTML and a tagged PDF from stored results, by command and button,
with no figure for a suppressed group in either format."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.models import Role
from survey_app.results import compute_results

from .helpers import add_user, figures_near, member_wave_with, sign_in


def _pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_report_command_writes_html_and_a_tagged_pdf(app, runner, tmp_path) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
    result = runner.invoke(
        args=["report", "quarterly", "--wave", "2026-Q2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    html = (tmp_path / "quarterly-2026-Q2.html").read_text()
    assert '<html lang="en-GB">' in html and "progress report for 2026-Q2" in html
    assert "2026-Q3" not in html  # the report stands at its own wave
    pdf = tmp_path / "quarterly-2026-Q2.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Tagged:          yes" in info and "progress report for 2026-Q2" in info
    text = _pdf_text(pdf)
    for heading in (
        "Summary of the quarter",
        "Scorecard",
        "Confidence and culture-change indices",
        "What people said",
        "Methodology and suppression",
        "Appendix",
    ):
        assert heading in text
    assert "O12: Public and partner confidence" in text
    latest = runner.invoke(args=["report", "quarterly", "--out", str(tmp_path)])
    assert latest.exit_code == 0 and (tmp_path / "quarterly-2026-Q3.pdf").exists()
    bad = runner.invoke(args=["report", "quarterly", "--wave", "1999-Q1", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "No results for wave '1999-Q1'" in bad.output


def test_report_without_results_says_what_to_do(runner, tmp_path) -> None:
    result = runner.invoke(args=["report", "quarterly", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "flask --app survey_app results" in result.output


@pytest.mark.parametrize("members", [7, 14])
def test_no_suppressed_figure_reaches_the_report(app, client, tmp_path, members: int) -> None:
    """Seven members (under the minimum of 10), six of them positive: 85.7% must appear in
    no form. Fourteen with the same split (85.7% again) is the control: there the figure is
    shown, so the check can tell."""
    with app.app_context():
        member_wave_with([{"M15": "1" if i % 7 == 0 else "5"} for i in range(members)])
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    html = client.get("/dashboard/report.html").get_data(as_text=True)
    pdf = client.get("/dashboard/report.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf.data)
    text = _pdf_text(tmp_path / "r.pdf")
    if members < 10:
        assert figures_near(html, 600 / 7) == [] and figures_near(text, 600 / 7) == []
        assert "not reported" in html
    else:
        assert figures_near(html, 600 / 7) and figures_near(text, 600 / 7)
