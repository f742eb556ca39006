"""The scorecard through HTTP (issue 17): statuses against the trajectory at the wave's closing
date, staff landing on the scorecard, downloads with n, estimate, CI, change, p (BH), MDC,
status and trajectory (published figures only for viewers, suppressed figures never), and
reverse-coded questions shown as "% disagreeing:"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from flask_migrate import upgrade

from instruments import SHIPPED_DIR
from survey_app.extensions import db
from survey_app.models import Role
from survey_app.results import compute_results

from ..conftest import make_app
from .helpers import add_user, figures_near, member_wave_with, sign_in

# every member: M01 positive, M02 negative, so the O1 outcome score is exactly 50%
HALF_POSITIVE = {"M01": "5", "M02": "1"}


def _rows(client, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _signed_in(app, role: Role = Role.ANALYST):
    email = f"{role.value}@council.example"
    add_user(app, email, role)
    client = app.test_client()
    sign_in(client, email)
    return client


def _o1_members(rows: list[dict[str, str]]) -> dict[str, str]:
    return next(r for r in rows if r["measure"] == "O1-members")


@pytest.fixture
def app_with_baseline_date(tmp_path: Path):
    """The shipped definitions with ``baseline_date: 2025-03-31`` on O1-members."""
    folder = tmp_path / "definitions"
    shutil.copytree(SHIPPED_DIR, folder)
    framework = yaml.safe_load((folder / "framework.yaml").read_text(encoding="utf-8"))
    for priority in framework["priorities"]:
        for workstream in priority.get("workstreams", []):
            for outcome in workstream["outcomes"]:
                for measure in outcome["measures"]:
                    if measure["id"] == "O1-members":
                        measure["baseline_date"] = dt.date(2025, 3, 31)
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework), encoding="utf-8")
    app = make_app(f"sqlite:///{tmp_path / 'pulse.db'}", INSTRUMENTS_DIR=str(folder))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_without_a_baseline_date_the_first_wave_is_the_baseline(app) -> None:
    with app.app_context():
        member_wave_with([HALF_POSITIVE] * 12)  # closed 31 Jul 2026
        compute_results()
    analyst = _signed_in(app)
    page = analyst.get("/dashboard/").get_data(as_text=True)
    # O1-members: baseline 35, target 65; the trajectory starts at the only wave's close
    assert "15 points above the trajectory of 35% for 31 Jul 2026" in page
    row = _o1_members(_rows(analyst, "/dashboard/scorecard.csv"))
    assert (row["status"], row["trajectory"], row["estimate"]) == ("On track", "35", "50")


def test_the_trajectory_is_read_at_the_waves_closing_date(app_with_baseline_date) -> None:
    app = app_with_baseline_date
    with app.app_context():
        member_wave_with([HALF_POSITIVE] * 12)
        compute_results()
    analyst = _signed_in(app)
    # from 35 on 31 Mar 2025 to 65 on 31 Mar 2027: on 31 Jul 2026, 487 of 730 days along
    expected = 35 + 30 * 487 / 730  # 55.01
    page = analyst.get("/dashboard/").get_data(as_text=True)
    assert "5 points below the trajectory of 55% for 31 Jul 2026, within the margin" in page
    row = _o1_members(_rows(analyst, "/dashboard/scorecard.csv"))
    assert row["status"] == "Close" and row["trajectory"] == f"{round(expected)}"
    assert row["outcome_status"] == "Close"  # O1's only rated measure is its median
    assert row["outcome_measures"] == "0 of 4 on track · 1 close · 3 no rating"


def test_an_open_wave_is_shown_but_not_rated(app) -> None:
    app.config["CLOCK"] = lambda: dt.datetime(2026, 7, 20, 12, tzinfo=dt.UTC)
    with app.app_context():
        member_wave_with([HALF_POSITIVE] * 12)  # open until 31 Jul 2026
        compute_results()
    analyst = _signed_in(app)
    row = _o1_members(_rows(analyst, "/dashboard/scorecard.csv"))
    assert (row["status"], row["reason"]) == ("No rating", "No closed wave yet")
    assert "50%" in analyst.get("/dashboard/").get_data(as_text=True)  # the live figure
    # viewers read published figures only: a live wave has none
    viewer = _signed_in(app, Role.VIEWER)
    row = _o1_members(_rows(viewer, "/dashboard/scorecard.csv"))
    assert row["estimate"] == row["n"] == "" and row["status"] == "No rating"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.ADMIN])
def test_viewers_analysts_and_admins_land_on_the_scorecard(app, role) -> None:
    add_user(app, "someone@council.example", role)
    client = app.test_client()
    landing = sign_in(client, "someone@council.example")
    assert landing.status_code == 302 and landing.headers["Location"] == "/dashboard/"
    assert "Are we on track?" in client.get("/dashboard/").get_data(as_text=True)


def test_the_safeguarding_reviewer_still_lands_on_the_queue(app) -> None:
    add_user(app, "reviewer@council.example", Role.SAFEGUARDING)
    landing = sign_in(app.test_client(), "reviewer@council.example")
    assert landing.headers["Location"].startswith("/comments/")


DOWNLOAD_COLUMNS = {"n", "estimate", "ci_low", "ci_high", "change", "p_adj", "mdc"}
DOWNLOAD_COLUMNS |= {"significance", "trajectory", "status"}


@pytest.mark.parametrize("members", [6, 12])
def test_downloads_carry_the_tests_and_status_but_never_a_suppressed_figure(
    app, members: int
) -> None:
    """Six members (under the minimum of 10) against twelve as the control: one in six
    answers half positively, the rest fully, so the O1 score is 91.7% either way; it is found
    in the control's downloads and nowhere in the suppressed group's."""
    answers = [{"M01": "5", "M02": "5" if i % 6 else "1"} for i in range(members)]
    share = (100 * (members - members // 6) + 50 * (members // 6)) / members
    with app.app_context():
        member_wave_with(answers)
        compute_results()
    analyst = _signed_in(app)
    scorecard = _rows(analyst, "/dashboard/scorecard.csv")
    trend = _rows(analyst, "/dashboard/outcomes/O1/members/member-pulse/trend.csv")
    assert set(scorecard[0]) >= DOWNLOAD_COLUMNS and set(trend[0]) >= DOWNLOAD_COLUMNS
    book = openpyxl.load_workbook(
        io.BytesIO(analyst.get("/dashboard/scorecard.xlsx").data), read_only=True
    )
    header = next(book.active.iter_rows(values_only=True))
    assert list(header) == list(scorecard[0])  # the same table, through the one writer
    row, wave = _o1_members(scorecard), trend[0]
    for text in (",".join(row.values()), ",".join(wave.values())):
        assert bool(figures_near(text, share)) is (members >= 10)
    if members < 10:
        assert row["status"] == wave["status"] == "No rating"
        assert "Too few responses" in row["reason"]
        assert row["n"] == row["estimate"] == row["ci_low"] == wave["n"] == ""
    else:
        assert (row["n"], row["status"]) == ("12", "Target met")  # 92% against 65
        assert wave["status"] == "Target met" and wave["trajectory"] == "35"


def test_a_reverse_coded_question_says_what_its_percentage_counts(app) -> None:
    with app.app_context():
        member_wave_with([{"M05": "1", "M01": "4"}] * 12)
        compute_results()
    analyst = _signed_in(app)
    page = analyst.get("/dashboard/outcomes/O5/members").get_data(as_text=True)
    assert "% disagreeing: Officers withhold information from members." in page
    items = _rows(analyst, "/dashboard/outcomes/O5/members/member-pulse/items.csv")
    m05 = next(r for r in items if r["question_id"] == "M05" and r["wave"] == "2026-Q3")
    assert m05["question"] == "% disagreeing: Officers withhold information from members."
    assert m05["estimate"] == "100"  # everyone disagreed: 100% "positive" for the council
    assert m05["n"] == "12" and m05["significance"] == "not compared: no earlier wave"


def _row(values: list[float | None], unit: str = "%", target: float = 65.0):
    from analysis.rag import Status, significance
    from instruments import Measure
    from survey_app.dashboard.scorecard import MeasureRow, Point
    from survey_app.targets import Target

    measure = Measure(id="m", type="kpi", title="A count", unit=unit)
    aim = Target(35.0, None, target, dt.date(2027, 3, 31), "higher", 10.0, None)
    series = [Point(f"2026-Q{i + 1}", v) for i, v in enumerate(values)]
    tag = significance(None, None, not_compared="no earlier wave")
    return MeasureRow(
        measure, "A count", aim, series[-1], None, tag, series, Status("none", ""), unit
    )


def _heights(points: str) -> list[float]:
    return [float(pair.split(",")[1]) for pair in points.split()]


def test_sparklines_share_one_scale_with_a_target_tick() -> None:
    wobble, fall = _row([43.0, 41.0, 43.0]), _row([48.0, 30.0, 14.0])
    drawn = {name: _heights(row.sparkline or "") for name, row in (("w", wobble), ("f", fall))}
    # the same y for the same figure on both, and a 2-point wobble a fraction of the fall
    assert drawn["w"][0] == pytest.approx(26 - 43 / 100 * 24, abs=0.05)
    assert drawn["f"][2] - drawn["f"][0] == pytest.approx(34 / 100 * 24, abs=0.1)
    assert drawn["w"][1] - drawn["w"][0] == pytest.approx(2 / 100 * 24, abs=0.1)
    assert (
        wobble.sparkline_target == fall.sparkline_target == pytest.approx(26 - 0.65 * 24, abs=0.05)
    )
    # a KPI in its own units: 0 up to the largest of its values, baseline and target
    kpi = _row([40.0, 30.0], unit="£m", target=0.0)
    assert _heights(kpi.sparkline or "") == [2.0, 8.0] and kpi.sparkline_target == 26.0
