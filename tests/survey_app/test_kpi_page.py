"""A KPI's page (issue 17 section 2), reached from its scorecard row and read-only for viewers:
its values by period in its own units, charted with the target, the trajectory and the baseline
(ids of its own, its figures in its accessible name), above the table of the same figures with
each period's status."""

from __future__ import annotations

import csv
import io
import re

from survey_app.extensions import db
from survey_app.models import KpiValue, Role

from .helpers import add_user, csrf, sign_in


def _record(app, measure_id: str, values: dict[str, float]) -> None:
    with app.app_context():
        for period, value in values.items():
            db.session.add(
                KpiValue(measure_id=measure_id, period=period, value=value, source="Budget report")
            )
        db.session.commit()


def _signed_in(app, role: Role):
    email = f"{role.value}@council.example"
    add_user(app, email, role)
    client = app.test_client()
    sign_in(client, email)
    return client


def _chart(page: str) -> tuple[str, str, str]:
    """The page's one trend chart: its SVG, title and description."""
    assert page.count("<svg ") == 1
    svg = page[page.index("<svg ") : page.index("</svg>")]
    title = re.search(r'<title id="([^"]+)-title">([^<]*)</title>', svg)
    desc = re.search(r'<desc id="[^"]+-desc">([^<]*)</desc>', svg)
    assert title and desc
    assert f'aria-labelledby="{title.group(1)}-title {title.group(1)}-desc"' in svg
    return svg, title.group(2), desc.group(1)


def test_a_viewer_reads_a_kpi_chart_in_its_units_from_the_scorecard(app) -> None:
    # O10-gap: from 48 £m to 0 £m by 31 Mar 2027, lower is better, margin 5
    _record(app, "O10-gap", {"2026-Q1": 40.0, "2026-Q2": 42.0, "2026-Q3": 27.5})
    viewer = _signed_in(app, Role.VIEWER)
    scorecard = viewer.get("/dashboard/").get_data(as_text=True)
    assert 'href="/dashboard/kpis/O10-gap">Budget gap for next year</a>' in scorecard
    response = viewer.get("/dashboard/kpis/O10-gap")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    svg, title, desc = _chart(page)
    assert title == "O10: Budget gap for next year (KPI, £m)"
    assert "Recorded value by period, in £m: 2026-Q1 40 £m; 2026-Q2 42 £m; 2026-Q3 27.5 £m." in desc
    assert "Target 0 £m by 31 Mar 2027. Baseline 48 £m." in desc
    # the trajectory from 48 at the end of 2026-Q1 (the first period) to 0 on 31 Mar 2027,
    # read at each period's end: 48, then 48 x (1 - 91/365), 48 x (1 - 183/365)
    assert "Trajectory: 2026-Q1 48 £m; 2026-Q2 36 £m; 2026-Q3 23.9 £m." in desc
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and all(
        i.startswith("chart-kpi-o10-gap") for i in re.findall(r'\bid="([^"]+)"', svg)
    )
    texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert {"£m", "Recorded value", "Target", "Trajectory", "Baseline"} <= texts
    assert "95% interval" not in texts  # a recorded value has no interval
    table = page[page.index("Values by period") :]
    table = table[table.index("<tbody") : table.index("</tbody>")]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S) for r in rows]
    assert [c[:4] for c in cells] == [
        ["2026-Q1", "40 £m", "48 £m", "On track"],  # lower is better: 8 £m below the line
        ["2026-Q2", "42 £m", "36 £m", "Off track"],  # 6 £m above: beyond the margin of 5
        ["2026-Q3", "27.5 £m", "23.9 £m", "Close"],  # 3.6 £m above: within the margin
    ]
    assert all("Budget report" in c[4] for c in cells)
    assert "Close" in page[: page.index("<svg ")]  # the latest period's status, as on the card
    # read-only: no way to change anything from here for a viewer
    main = page[page.index("<main") :]
    assert "Change the target" not in main and "<form" not in main
    assert viewer.get("/programme/measures/O10-gap").status_code == 403
    # the scorecard download says the KPI's levels in its units to one decimal, as the page
    download = viewer.get("/dashboard/scorecard.csv").get_data(as_text=True)
    kpi = next(r for r in csv.DictReader(io.StringIO(download)) if r["measure"] == "O10-gap")
    assert (kpi["estimate"], kpi["trajectory"], kpi["target"], kpi["unit"]) == (
        "27.5",
        "23.9",
        "0",
        "£m",
    )


def test_a_value_an_analyst_records_is_charted_and_unknown_kpis_are_not_found(app) -> None:
    analyst = _signed_in(app, Role.ANALYST)
    empty = analyst.get("/dashboard/kpis/O9-divested").get_data(as_text=True)
    assert "<svg" not in empty and "No value has been recorded for this KPI yet." in empty
    assert 'href="/programme/measures/O9-divested"' in empty  # analysts may change the target
    target_page = analyst.get("/programme/measures/O9-divested").get_data(as_text=True)
    assert 'href="/dashboard/kpis/O9-divested"' in target_page  # and back to the chart
    analyst.post(
        "/programme/measures",
        data={
            "csrf_token": csrf(analyst, "/programme/measures"),
            "measure": "O9-divested",
            "period": "2026-Q3",
            "value": "61",
            "source": "Investment board paper",
        },
    )
    page = analyst.get("/dashboard/kpis/O9-divested").get_data(as_text=True)
    _, _, desc = _chart(page)
    # a percentage KPI is drawn on the common 0-100 axis
    assert "in %: 2026-Q3 61%." in desc and "% (0 to 100)" in page
    assert "Investment board paper" in page
    assert analyst.get("/dashboard/kpis/O99-nothing").status_code == 404
    assert analyst.get("/dashboard/kpis/O1-members").status_code == 404  # a survey measure
