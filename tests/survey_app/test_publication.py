"""No differencing through repeated publication (issue 14 section 4): a viewer downloads every
table before and after one new response to a live wave and finds no change until the wave
closes; then the wave's figures; after that they change only through an audited re-publish.
Pages and downloads show figures at the precision the issue sets, for every role."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
from sqlalchemy import select

from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.extensions import db
from survey_app.models import Answer, AuditEntry, InstrumentVersion, Response, Role, Wave

from .helpers import add_user, csrf, sign_in
from .survey_helpers import full_answers

TODAY = dt.date(2026, 11, 2)  # the demo's 2026-Q4 waves opened 14 days before and are live


def at(day: dt.date):
    moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return lambda: moment


def _add_responses(app, count: int, day: dt.date, seed: int = 0) -> None:
    """``count`` staff-pulse responses to the wave labelled 2026-Q4, as released rows."""
    with app.app_context():
        wave = db.session.scalar(
            select(Wave)
            .join(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == "staff-pulse", Wave.label == "2026-Q4")
        )
        instrument = wave.instrument_version.instrument
        scale_ids = {q.id for q in instrument.questions if q.type == "scale"}
        for i in range(count):
            answers = {
                q: v for q, v in full_answers(instrument, seed=seed + i).items() if q in scale_ids
            }
            db.session.add(
                Response(
                    wave_id=wave.id,
                    submitted_on=day,
                    answers=[Answer(question_id=q, value=v) for q, v in answers.items()],
                )
            )
        db.session.commit()


def _recompute(analyst) -> None:
    assert (
        analyst.post(
            "/dashboard/recompute", data={"csrf_token": csrf(analyst, "/dashboard/")}
        ).status_code
        == 302
    )


def _xlsx_rows(data: bytes) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def every_table(client) -> dict[str, object]:
    """Every table the signed-in user can download, by address (as CSV: the Excel file of
    each holds the same frame), the scorecard and indices as Excel too, and the quarterly
    report as HTML."""
    scorecard = client.get("/dashboard/").get_data(as_text=True)
    pages = [
        "/dashboard/",
        "/dashboard/indices",
        *sorted(set(re.findall(r'href="(/dashboard/outcomes/[^/"]+/[^/"]+)"', scorecard))),
    ]
    assert len(pages) >= 10, pages
    links: set[str] = set()
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        links |= set(re.findall(r'href="(/dashboard/[^"]+\.csv)"', response.get_data(as_text=True)))
    assert len(links) >= 20, links
    tables: dict[str, object] = {}
    for link in sorted(links):
        response = client.get(link)
        assert response.status_code == 200, link
        tables[link] = response.get_data(as_text=True)
    for book in ("/dashboard/scorecard.xlsx", "/dashboard/indices.xlsx"):
        tables[book] = _xlsx_rows(client.get(book).data)
    tables["/dashboard/report.html"] = client.get("/dashboard/report.html").get_data(as_text=True)
    return tables


STAFF_TREND = "/dashboard/outcomes/O1/staff/staff-pulse/trend.csv"


def _staff_trend(tables_or_client) -> str:
    """The staff-pulse outcome trend: from a set of downloads, or downloaded by a client."""
    if isinstance(tables_or_client, dict):
        return tables_or_client[STAFF_TREND]
    return tables_or_client.get(STAFF_TREND).get_data(as_text=True)


def _q4(trend: str) -> list[str]:
    return next(line for line in trend.splitlines() if line.startswith("2026-Q4,")).split(",")


def test_viewers_see_a_live_wave_only_once_it_has_closed(app) -> None:
    app.config["CLOCK"] = at(TODAY)
    with app.app_context():
        seed_demo(load_definitions(), seed=2, today=TODAY)
    add_user(app, "viewer@council.example", Role.VIEWER)
    add_user(app, "analyst@council.example", Role.ANALYST)
    viewer, analyst = app.test_client(), app.test_client()
    sign_in(viewer, "viewer@council.example")
    sign_in(analyst, "analyst@council.example")
    _add_responses(app, 12, TODAY)  # enough for the live wave to be reported to analysts
    _recompute(analyst)

    before = every_table(viewer)
    analyst_before = _staff_trend(analyst)
    assert ",2026-Q4," not in _staff_trend(before) and "2026-Q4" in analyst_before

    _add_responses(app, 1, TODAY, seed=99)  # one new response to the live wave
    _recompute(analyst)
    after = every_table(viewer)
    assert after == before  # not one figure moved for the viewer
    assert _staff_trend(analyst) != analyst_before  # it did for the analyst

    # the wave closes (its last day is over in London) and results are computed again
    with app.app_context():
        closes = db.session.scalar(select(Wave.closes_on).where(Wave.label == "2026-Q4").limit(1))
    app.config["CLOCK"] = at(closes + dt.timedelta(days=1))
    _recompute(analyst)
    closed = every_table(viewer)
    trend = _staff_trend(closed)
    assert _q4(trend)[1] == "13"  # n: every response, the last one too
    assert _q4(trend) == _q4(_staff_trend(analyst))
    with app.app_context():
        published = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "wave figures published")
        ).all()
        assert {e.detail["label"] for e in published} >= {"2026-Q4"}
        assert all(e.detail["automatic"] for e in published)

    # late paper returns: analysts see them at once, viewers only after an audited re-publish
    _add_responses(app, 3, closes, seed=7)
    _recompute(analyst)
    assert every_table(viewer) == closed and _q4(_staff_trend(analyst))[1] == "16"
    with app.app_context():
        wave_id = db.session.scalar(
            select(Wave.id)
            .join(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == "staff-pulse", Wave.label == "2026-Q4")
        )
    path = f"/programme/waves/{wave_id}/publish"
    page = analyst.get(path).get_data(as_text=True)
    assert (
        "Re-publish the figures of wave 2026-Q4" in page
        and "automatically when the wave closed" in page
    )
    refused = analyst.post(path, data={"csrf_token": csrf(analyst, path), "reason": " "})
    assert (
        refused.status_code == 400
        and "Say why the published figures are changing" in refused.get_data(as_text=True)
    )
    assert _staff_trend(viewer) == trend
    assert (
        analyst.post(
            path, data={"csrf_token": csrf(analyst, path), "reason": "3 late paper returns"}
        ).status_code
        == 302
    )
    assert _q4(_staff_trend(viewer))[1] == "16"
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "wave figures re-published")
        )
        assert entry.detail["reason"] == "3 late paper returns" and entry.user_id is not None
    assert viewer.get(path).status_code == 403  # publishing is for analysts


def test_a_live_wave_published_early_changes_only_when_re_published(db_app) -> None:
    app = db_app
    app.config["CLOCK"] = at(TODAY)
    with app.app_context():
        seed_demo(load_definitions(), seed=2, today=TODAY)
    add_user(app, "viewer@council.example", Role.VIEWER)
    add_user(app, "analyst@council.example", Role.ANALYST)
    viewer, analyst = app.test_client(), app.test_client()
    sign_in(viewer, "viewer@council.example")
    sign_in(analyst, "analyst@council.example")
    _add_responses(app, 12, TODAY)
    with app.app_context():
        wave_id = db.session.scalar(
            select(Wave.id)
            .join(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == "staff-pulse", Wave.label == "2026-Q4")
        )
    path = f"/programme/waves/{wave_id}/publish"
    # the results are out of date: nothing can be published from them
    assert "The results are out of date" in analyst.get(path).get_data(as_text=True)
    _recompute(analyst)
    page = analyst.get(path).get_data(as_text=True)
    assert "The wave is still open" in page and 'name="reason"' not in page
    assert analyst.post(path, data={"csrf_token": csrf(analyst, path)}).status_code == 302
    early = _staff_trend(viewer)
    assert _q4(early)[1] == "12"
    # the member survey's 2026-Q4 shares the label but is live: none of it beside the figures
    members = viewer.get("/dashboard/outcomes/O1/members").get_data(as_text=True)
    rates = members[members.index("Response rates") :]
    rates = rates[: rates.index("</table>")]
    assert "2026-Q3" in rates and "2026-Q4" not in rates
    assert "2026-Q4" in analyst.get("/dashboard/outcomes/O1/members").get_data(as_text=True)
    _add_responses(app, 1, TODAY, seed=5)
    _recompute(analyst)
    assert _staff_trend(viewer) == early and _q4(_staff_trend(analyst))[1] == "13"
    assert "Re-publish the figures" in analyst.get(f"/programme/waves/{wave_id}").get_data(
        as_text=True
    )


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def test_pages_and_downloads_show_figures_at_the_set_precision(app) -> None:
    app.config["CLOCK"] = at(TODAY)
    with app.app_context():
        seed_demo(load_definitions(), seed=2, today=TODAY)
    add_user(app, "analyst@council.example", Role.ANALYST)
    analyst = app.test_client()
    sign_in(analyst, "analyst@council.example")
    _recompute(analyst)
    tables = every_table(analyst)
    checked = 0
    for link, table in tables.items():
        if not link.endswith(".csv"):
            continue
        header, *rows = list(csv.reader(io.StringIO(table)))
        for row in rows:
            for column, cell in zip(header, row, strict=True):
                if column in ("estimate", "ci_low", "ci_high", "latest", "change") or re.fullmatch(
                    r"\d{4}-Q\d", column
                ):
                    assert cell == "" or re.fullmatch(r"-?\d+", cell), (link, column, cell)
                    checked += 1
                if column in ("alpha", "alpha_low", "alpha_high"):
                    assert _decimals(cell) <= 2, (link, column, cell)
    assert checked > 100
    for link in (link for link in tables if link.endswith(".xlsx")):
        header = tables[link][0]
        for row in tables[link][1:]:
            for column, v in zip(header, row, strict=True):
                places = 3 if column in ("p_value", "p_adj") else 2  # p-values to three
                assert not isinstance(v, float) or v == round(v, places), (link, column, v)
    chart = analyst.get("/dashboard/outcomes/O12/residents").get_data(as_text=True)
    assert re.search(r"2026-Q\d \d+%", chart)  # the chart's text alternative, whole numbers
    scorecard = analyst.get("/dashboard/").get_data(as_text=True)
    assert not re.search(r"[+-]\d+\.\d points", scorecard)  # changes as whole numbers
