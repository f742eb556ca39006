"""The quarterly report: HTML and a tagged PDF from stored results, by command and button,
with no figure for a suppressed group in either format."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from pptx import Presentation

from instruments import load_definitions
from survey_app.dashboard.scorecard import all_cards, headline, scorecard
from survey_app.definitions import current_definitions
from survey_app.demo import seed_demo
from survey_app.models import Role
from survey_app.reports.summary import headline_text
from survey_app.results import compute_results, latest_results

from .helpers import add_user, figures_near, member_wave_with, sign_in


def _pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pdf_cells(path) -> str:
    """The PDF's text in its content order (each table cell whole: pdftotext -raw), words
    split by hyphenation joined again and whitespace collapsed."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    raw = subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(raw.replace("-\n", "-").split())


def _slides(data: bytes) -> list[dict]:
    """Per slide: every text (shapes and table cells) and every picture's alt text."""
    found = []
    for slide in Presentation(io.BytesIO(data)).slides:
        texts, pictures = [], []
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                texts += [cell.text for row in shape.table.rows for cell in row.cells]
            if shape.shape_type == 13:  # a picture
                pictures.append(shape._element.nvPicPr.cNvPr.get("descr") or "")
        found.append({"text": " ".join(" ".join(texts).split()), "alt": pictures})
    return found


def test_demo_report_for_2026_q3_reads_back_from_pdf_and_slides(app, runner, client, tmp_path):
    """The done-when of issue 17 §3: the demo's 2026-Q3 report, read back from the PDF
    (pdftotext) and the slides (python-pptx), has the headline counts by measure status,
    every measure's title, and alt text on every picture; the web page opens in the browser."""
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
        result, _ = latest_results()
        framework = current_definitions().framework
        board = scorecard(framework, result, up_to="2026-Q3")
        counts = headline(all_cards(board))
        titles = [row.title for card in all_cards(board) for row in card.rows]
        by_priority = {
            priority: [row.title for cards in groups.values() for c in cards for row in c.rows]
            for priority, groups in board.items()
        }
    assert sum(counts.measures.values()) == len(titles) > 12  # measures, not outcomes
    done = runner.invoke(
        args=["report", "quarterly", "--wave", "2026-Q3", "--pptx", "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    assert "quarterly-2026-Q3.pptx" in done.output

    text = _pdf_cells(tmp_path / "quarterly-2026-Q3.pdf")
    assert headline_text(counts.measures, counts.outcomes) in text
    for key, words in [
        ("met", "measures with the target met"),
        ("on_track", "on track"),
        ("close", "close"),
        ("off_track", "off track"),
    ]:
        assert f"{counts.measures[key]} {words}" in text
    assert [t for t in titles if t not in text] == []
    assert "What changed since 2026-Q2" in text and "How this summary is written" in text
    assert "Residents satisfied with the way their local council runs things" in text
    assert "Indicative" in text  # the LGA benchmark, beside our figure

    deck = _slides((tmp_path / "quarterly-2026-Q3.pptx").read_bytes())
    assert "progress report for 2026-Q3" in deck[0]["text"]
    measures = counts.measures
    assert (
        f"Measures: {measures['met']} target met · {measures['on_track']} on track · "
        f"{measures['close']} close · {measures['off_track']} off track"
    ) in deck[1]["text"]
    priority_slides = deck[2 : 2 + len(by_priority)]
    assert [s["text"].split(" ")[0] for s in priority_slides] == [
        p.split(" ")[0] for p in by_priority
    ]
    for slide, (priority, priority_titles) in zip(
        priority_slides, by_priority.items(), strict=True
    ):
        assert slide["text"].startswith(priority)
        assert [t for t in priority_titles if t not in slide["text"]] == []
        (alt,) = slide["alt"]  # one trend picture per priority, described
        assert [t for t in priority_titles if t not in alt] == []
        assert re.search(r"2026-Q3 \d+%", alt)
    assert all(alt for s in deck for alt in s["alt"])
    # "You said, we did": the demo's published member action, never the unpublished one
    (you_said,) = deck[2 + len(by_priority) : -1]
    assert you_said["text"].startswith("You said, we did: members")
    assert "Monthly member briefings on the corporate plan" in you_said["text"]
    assert "scrutiny work programme" not in you_said["text"]
    assert "You said, we did" in text and "Monthly member briefings" in text
    assert "scrutiny work programme" not in text
    assert "Who responded" in text
    assert deck[-1]["text"].startswith("Methodology")
    assert sum(len(s["alt"]) for s in deck) == len(by_priority)

    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/report.html?wave=2026-Q3")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Disposition"].startswith("inline")
    policy = page.headers["Content-Security-Policy"]
    assert "style-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy
    slides = client.get("/dashboard/report.pptx?wave=2026-Q3")
    assert slides.headers["Content-Disposition"].startswith("attachment")
    assert slides.mimetype.endswith("presentationml.presentation")
    assert _slides(slides.data)[1]["text"] == deck[1]["text"]
    assert "report.pptx" in client.get("/dashboard/").get_data(as_text=True)  # the button


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
    slides = _slides(client.get("/dashboard/report.pptx").data)
    deck = " ".join(s["text"] + " " + " ".join(s["alt"]) for s in slides)
    pdf = client.get("/dashboard/report.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf.data)
    text = _pdf_text(tmp_path / "r.pdf")
    if members < 10:
        assert figures_near(html, 600 / 7) == [] and figures_near(text, 600 / 7) == []
        assert figures_near(deck, 600 / 7) == []
        assert "not reported" in html and "not reported" in deck
    else:
        assert figures_near(html, 600 / 7) and figures_near(text, 600 / 7)
        assert figures_near(deck, 600 / 7)
