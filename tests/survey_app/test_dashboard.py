"""The scorecard reads stored results, shows suppressed groups as grey without figures, and
is recomputed on demand (analysts) when the data change."""

from __future__ import annotations

import datetime as dt
import io
import re
from csv import DictReader

import openpyxl
import pytest
from sqlalchemy import select

from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.extensions import db
from survey_app.models import (
    AnalysisResult,
    Answer,
    AuditEntry,
    Response,
    Role,
    Wave,
)
from survey_app.results import compute_results

from .helpers import (
    add_user,
    csrf,
    figures_near,
    member_wave_with,
    reword_in_wave,
    shrink_ward,
    sign_in,
)


def _results_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(AnalysisResult))


def test_scorecard_reads_stored_results_and_offers_a_recompute_when_stale(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert _results_count(app) == 1  # reading the page computed nothing
    assert "O1: A shared long-term purpose" in page and "O12:" in page
    assert "Published figures of" in page and "The data have changed" not in page
    # every measure is named in plain words with its audience, not "outcome score (...)"
    assert "Members who feel engaged in the council&#39;s direction" in page
    assert "outcome score (" not in page
    assert "Investments divested or with divestment under way" in page
    assert "not compared: KPI values are not tested" in page
    assert "Recompute" not in page  # viewers only read
    with app.app_context():
        wave = db.session.scalar(select(Wave).where(Wave.label == "2026-Q3"))
        db.session.add(
            Response(
                wave_id=wave.id,
                submitted_on=dt.date(2026, 7, 20),
                answers=[
                    Answer(
                        question_id=wave.instrument_version.instrument.questions[0].id, value="5"
                    )
                ],
            )
        )
        db.session.commit()
    # viewers read the published figures, which do not go stale; analysts are told
    assert "The data have changed since then" not in client.get("/dashboard/").get_data(
        as_text=True
    )
    assert (
        client.post(
            "/dashboard/recompute", data={"csrf_token": csrf(client, "/dashboard/")}
        ).status_code
        == 403
    )
    analyst = app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(analyst, "analyst@council.example")
    stale = analyst.get("/dashboard/").get_data(as_text=True)
    assert "The data have changed since then" in stale and "Recompute the results now" in stale
    analyst.post("/dashboard/recompute", data={"csrf_token": csrf(analyst, "/dashboard/")})
    assert _results_count(app) == 2
    assert "The data have changed" not in analyst.get("/dashboard/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "results recomputed")
        )


@pytest.mark.parametrize("members", [6, 12])
def test_a_suppressed_audience_is_grey_and_its_figure_never_shown(
    app, client, members: int
) -> None:
    """Six members (under the minimum of 10): neither 5/6 (83.3) nor (5/6 + 1)/2 (91.7), the
    figures this split gives, appears in any form. Twelve with the same split is the control:
    there the figures are shown, so the check can tell."""
    with app.app_context():
        member_wave_with([{"M01": "1" if i % 6 == 5 else "5", "M02": "4"} for i in range(members)])
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/").get_data(as_text=True)
    o1 = page[page.index("O1: A shared") : page.index("O2: A corporate")]
    members_card = o1[o1.index("Members who feel engaged") : o1.index("Staff who understand")]
    shown = figures_near(members_card, 500 / 6) + figures_near(members_card, 1100 / 12)
    if members >= 10:
        assert shown and "Too few responses to report" not in members_card
        return
    assert shown == []
    assert "No rating" in members_card and "Too few responses to report" in members_card
    latest = re.findall(r"<dt>Latest</dt><dd>([^<]*)", members_card)[0]
    assert latest.strip() == "–"  # the latest figure is blank


def test_outcome_drilldown_chart_table_breaks_and_downloads(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        # P01 (O12) reworded for 2026-Q3
        reword_in_wave(
            "resident-perception",
            0,
            "All things considered, how satisfied are you with the council?",
            "2026-Q3",
        )
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/outcomes/O12/residents").get_data(as_text=True)
    chart = "chart-o12-residents-resident-perception"  # ids prefixed per chart: unique
    assert "<svg " in page and 'role="img"' in page and f'<title id="{chart}-title">' in page
    assert "Outcome score by wave with 95% confidence intervals" in page
    assert (
        'style="' not in page[page.index("<svg ") : page.index("</svg>")]
    )  # CSP-safe: no inline styles
    assert "changed before 2026-Q3" in page and "2026-Q3 (new series)" in page
    assert "Outcome score by ward" in page and "Questions behind this outcome" in page
    rates = page[page.index("Response rates") :]
    assert "0.5%" in rates[: rates.index("</table>")]  # e.g. 640 of 128,000 residents
    csv = client.get("/dashboard/outcomes/O12/residents/resident-perception/trend.csv").get_data(
        as_text=True
    )
    assert (
        csv.splitlines()[0]
        == "wave,n,estimate,ci_low,ci_high,suppressed,"
        "change,p_value,p_adj,mdc,significance,trajectory,status,reason"
        and len(csv.splitlines()) == 5
    )
    assert (
        client.get(
            "/dashboard/outcomes/O12/residents/resident-perception/by-nothing.csv"
        ).status_code
        == 404
    )
    assert client.get("/dashboard/outcomes/O99/residents").status_code == 404


def test_small_breakdown_groups_are_not_reported_anywhere(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        # four residents of one wave are in a tiny ward: a group below the minimum
        shrink_ward("resident-perception", "2026-Q3", "Rural East", 4, "Grays and Chafford")
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/outcomes/O12/residents").get_data(as_text=True)
    ward = page[page.index("Outcome score by ward") :]
    ward = ward[: ward.index("</table>")]
    rural_row = ward[ward.index("Rural East") :]
    rural_row = rural_row[: rural_row.index("</tr>")]
    assert rural_row.count("not reported") >= 1
    # the downloads are long (one row per ward and wave): Rural East's 2026-Q3 row is there,
    # every figure blank, in the CSV and in the Excel workbook
    csv = client.get("/dashboard/outcomes/O12/residents/resident-perception/by-ward.csv")
    rows = list(DictReader(io.StringIO(csv.get_data(as_text=True))))
    rural = {r["wave"]: r for r in rows if r["group"] == "Rural East"}
    figures = ("n", "estimate", "ci_low", "ci_high", "change", "p_value", "p_adj", "mdc")
    assert rural["2026-Q3"]["suppressed"] == "True"
    assert all(rural["2026-Q3"][f] == "" for f in figures), rural["2026-Q3"]
    assert rural["2026-Q2"]["n"] and rural["2026-Q2"]["estimate"]  # earlier waves are reported
    book = openpyxl.load_workbook(
        io.BytesIO(
            client.get("/dashboard/outcomes/O12/residents/resident-perception/by-ward.xlsx").data
        ),
        read_only=True,
    )
    sheet = book.active.iter_rows(values_only=True)
    header = next(sheet)
    cells = [dict(zip(header, r, strict=True)) for r in sheet]
    q3 = [r for r in cells if r["wave"] == "2026-Q3"]
    excel = next(r for r in q3 if r["group"] == "Rural East")
    assert excel["suppressed"] is True and all(excel[f] is None for f in figures)
    # Subtraction cannot recover it: a second ward is hidden in the same wave, so the total
    # minus the visible wards mixes two unknown groups.
    hidden = [r for r in q3 if r["suppressed"]]
    assert len(hidden) >= 2 and all(r["estimate"] is None and r["n"] is None for r in hidden)


def test_indices_page_and_every_dashboard_table_downloads(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = client.get("/dashboard/indices").get_data(as_text=True)
    assert (
        "Confidence and culture-change indices" in page
        and "culture" in page
        and "confidence" in page
    )
    indices = client.get("/dashboard/indices.csv").get_data(as_text=True).splitlines()
    assert indices[0].startswith(
        "instrument,audience,wave,index,n,estimate,ci_low,ci_high,suppressed,alpha"
    )
    scorecard = client.get("/dashboard/scorecard.csv").get_data(as_text=True).splitlines()
    assert scorecard[0] == (
        "priority,workstream,outcome,outcome_status,outcome_measures,measure,title,unit,wave,"
        "n,estimate,ci_low,ci_high,change,p_adj,mdc,significance,target,target_date,direction,"
        "trajectory,status,reason"
    )
    assert sum(1 for line in scorecard if ",O9," in line) == 1  # one KPI measure for O9
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/dashboard/scorecard.xlsx").data), read_only=True
    )
    assert next(book.active.iter_rows(values_only=True))[:3] == (
        "priority",
        "workstream",
        "outcome",
    )
    assert client.get("/dashboard/scorecard.json").status_code == 404
    with app.app_context():
        logged = db.session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "table downloaded")
        ).all()
        assert {d["table"] for d in logged} == {"indices", "scorecard"}
