"""The heatmap page (issue 18, section 1): a real table whose cells carry the figure, the
difference from the rest and its significance in words; filters; CSV and Excel downloads
at display precision; viewers see published figures only."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from werkzeug.datastructures import MultiDict

from instruments import load_definitions
from survey_app.models import Role

from .helpers import add_user, sign_in

CELL = re.compile(r"\d+%?, (\d+ points? (above|below) the rest|the same as the rest)")


@pytest.fixture
def demo(app):
    from survey_app.demo import seed_demo
    from survey_app.results import compute_results

    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
    add_user(app, "analyst@council.example", Role.ANALYST)
    add_user(app, "viewer@council.example", Role.VIEWER)
    return app


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def test_the_heatmap_is_a_table_of_worded_cells_with_filters(demo) -> None:
    analyst = _client(demo, "analyst@council.example")
    page = analyst.get("/dashboard/heatmap/staff-pulse").get_data(as_text=True)
    assert "<table" in page and 'scope="col"' in page and 'scope="row"' in page
    assert CELL.search(page)
    assert 'id="wave"' in page and 'id="by"' in page
    waves = re.findall(r'<option value="(\d{4}-Q\d)"', page)
    with demo.app_context():
        from survey_app.results import latest_results, table

        stored = table(latest_results()[0], "heatmap")
    shown = stored[(stored["instrument"] == "staff-pulse") & (stored["wave"] == waves[-1])]
    first = sorted(set(shown["by"]))[0]
    significant = shown[(shown["by"] == first) & shown["significant"].eq(True)]
    # significance in words on exactly the significant cells, as a tag (never colour alone)
    assert page.count("(significant)</strong>") == len(significant)
    assert page.count(">not reported</td>") == int(
        shown.loc[shown["by"] == first, "suppressed"].sum()
    )
    assert len(waves) >= 2
    grade = analyst.get(f"/dashboard/heatmap/staff-pulse?wave={waves[0]}&by=grade")
    assert grade.status_code == 200
    text = grade.get_data(as_text=True)
    assert f"{waves[0]}: each group against the rest, by grade" in text
    assert analyst.get("/dashboard/heatmap/staff-pulse?by=shoe_size").status_code == 404
    assert analyst.get("/dashboard/heatmap/no-such-survey").status_code == 404


def test_downloads_are_rounded_and_blank_where_suppressed(demo) -> None:
    analyst = _client(demo, "analyst@council.example")
    with demo.app_context():
        from survey_app.results import latest_results, table

        stored = table(latest_results()[0], "heatmap")
    hidden_somewhere = stored[stored["suppressed"].astype(bool)]
    instrument, wave, by = hidden_somewhere[["instrument", "wave", "by"]].iloc[0]
    page = analyst.get(f"/dashboard/heatmap/{instrument}?wave={wave}&by={by}")
    link = re.search(
        rf'href="(/dashboard/heatmap/{instrument}/[^"]+\.csv)"', page.get_data(as_text=True)
    ).group(1)
    frame = pd.read_csv(io.BytesIO(analyst.get(link).data), keep_default_na=False)
    assert {"group", "n", "estimate", "rest_estimate", "difference", "p_adj"} <= set(frame)
    shown = frame[frame["suppressed"].astype(str).str.lower() == "false"]
    hidden = frame[frame["suppressed"].astype(str).str.lower() == "true"]
    assert len(shown) and len(hidden)
    for column in ("estimate", "rest_estimate", "difference"):
        values = pd.to_numeric(shown[column])
        assert (values == values.round()).all(), column
    assert (hidden[["n", "estimate", "difference"]] == "").all().all()
    excel = analyst.get(link.replace(".csv", ".xlsx"))
    assert excel.status_code == 200 and excel.data[:2] == b"PK"


def test_a_viewer_sees_only_published_waves(demo) -> None:
    analyst = _client(demo, "analyst@council.example")
    viewer = _client(demo, "viewer@council.example")
    staff_waves = set(
        re.findall(
            r'<option value="(\d{4}-Q\d)"',
            analyst.get("/dashboard/heatmap/staff-pulse").get_data(as_text=True),
        )
    )
    seen = set(
        re.findall(
            r'<option value="(\d{4}-Q\d)"',
            viewer.get("/dashboard/heatmap/staff-pulse").get_data(as_text=True),
        )
    )
    assert seen and seen <= staff_waves
    with demo.app_context():
        from survey_app.publication import published_results
        from survey_app.results import table

        published = table(published_results(), "heatmap")
    assert seen == set(published.loc[published["instrument"] == "staff-pulse", "wave"])


def test_outcome_pages_show_key_drivers_as_chart_and_table(demo) -> None:
    analyst = _client(demo, "analyst@council.example")
    page = analyst.get("/dashboard/outcomes/O3/staff").get_data(as_text=True)
    assert "associated with, not the cause of" in page
    assert 'aria-labelledby="drivers-staff-pulse-index-confidence-title' in page
    assert "Key drivers of the confidence index" in page
    assert "priority to improve" in page or "strength" in page
    with demo.app_context():
        from survey_app.results import latest_results, table

        drivers = table(latest_results()[0], "drivers")
    confidence = drivers[
        (drivers["instrument"] == "staff-pulse") & (drivers["target_id"] == "confidence")
    ]
    assert len(confidence)
    # one table row per predictor of the latest wave
    latest = confidence[confidence["wave"] == confidence["wave"].max()]
    caption = page.index("Key drivers of the confidence index")
    body = page[caption : page.index("</table>", caption)]
    assert body.count('<tr class="govuk-table__row"><th scope="row"') == len(latest)
    assert '/dashboard/heatmap/staff-pulse"' in page


def test_each_driver_table_downloads_with_the_drivers_csv_columns(demo) -> None:
    from analysis.drivers import DRIVER_COLUMNS

    analyst = _client(demo, "analyst@council.example")
    page = analyst.get("/dashboard/outcomes/O3/staff").get_data(as_text=True)
    links = re.findall(r'href="(/dashboard/drivers/staff-pulse/[^"]+\.csv)"', page)
    assert "/dashboard/drivers/staff-pulse/index/confidence/" in " ".join(links)
    with demo.app_context():
        from survey_app.results import latest_results, table

        stored = table(latest_results()[0], "drivers")
    for link in links:
        level, target, wave = link.removesuffix(".csv").split("/")[-3:]
        frame = pd.read_csv(io.BytesIO(analyst.get(link).data))
        assert list(frame.columns) == [*DRIVER_COLUMNS, "question"]
        expected = stored[
            (stored["instrument"] == "staff-pulse")
            & (stored["target_level"] == level)
            & (stored["target_id"] == target)
            & (stored["wave"] == wave)
        ].sort_values("importance", ascending=False)
        assert frame["item"].tolist() == expected["item"].tolist()
        # at the page's precision: whole shares and scores, R^2 to two decimals
        assert frame["importance"].tolist() == [round(v) for v in expected["importance"]]
        assert frame["item_score"].tolist() == [round(v) for v in expected["item_score"]]
        assert set(frame["r2"]) == {round(expected["r2"].iloc[0], 2)}
        assert frame["question"].str.len().gt(20).all()
        excel = analyst.get(link.replace(".csv", ".xlsx"))
        assert excel.status_code == 200 and excel.data[:2] == b"PK"
    assert (
        analyst.get("/dashboard/drivers/staff-pulse/index/nothing/2026-Q1.csv").status_code == 404
    )
    assert analyst.get(links[0].replace(".csv", ".pdf")).status_code == 404
    # a viewer downloads only what a viewer's page shows: published waves
    viewer = _client(demo, "viewer@council.example")
    with demo.app_context():
        from survey_app.publication import published_results

        published = table(published_results(), "drivers")
    unpublished = set(stored["wave"]) - set(published["wave"])
    for link in links:
        wave = link.removesuffix(".csv").split("/")[-1]
        assert viewer.get(link).status_code == (404 if wave in unpublished else 200)


def test_a_significant_cell_plans_an_action_linked_to_it(demo) -> None:
    """An analyst follows a significant cell's "Plan an action": the form arrives with the
    survey, the wave, the cell and what was heard (in words: an action may be published, and
    its figure only ever comes from the published results); the saved action names the cell
    and links back to its heatmap. Viewers read the heatmap without the link."""
    from html import unescape

    from survey_app.extensions import db
    from survey_app.models import Action

    from .helpers import csrf

    analyst = _client(demo, "analyst@council.example")
    with demo.app_context():
        from survey_app.results import latest_results, table

        stored = table(latest_results()[0], "heatmap")
    significant = stored[(stored["instrument"] == "staff-pulse") & stored["significant"].eq(True)]
    wave, by = significant.iloc[0][["wave", "by"]]
    heatmap = f"/dashboard/heatmap/staff-pulse?wave={wave}&by={by}"
    page = analyst.get(heatmap).get_data(as_text=True)
    links = re.findall(r'<a class="govuk-link govuk-body-s" href="(/actions/new\?[^"]+)"', page)
    assert links and len(links) == page.count("(significant)</strong>")
    form_page = analyst.get(unescape(links[0])).get_data(as_text=True)
    cell_input = re.search(r'<input[^>]*name="cell"[^>]*>', form_page).group(0)
    cell = re.search(r'value="([^"]+)"', cell_input).group(1)
    heard = re.search(r'<textarea[^>]*id="heard"[^>]*>\s*([^<]+)</textarea>', form_page).group(1)
    assert re.fullmatch(r"\S+( (index|outcome))? · [a-z_ ×]+: .+", unescape(cell))
    assert "significantly" in heard and "%" not in heard and not re.search(r"\d+ points", heard)
    selected = re.search(r'<option value="(\d+)" selected>Staff pulse survey: ' + wave, form_page)
    assert selected, "the wave the cell is from is chosen"
    assert '<option value="staff-pulse" selected>' in form_page
    form = {
        "csrf_token": csrf(analyst, "/actions/new"),
        "title": "Look into the difference",
        "instrument": "staff-pulse",
        "heard_wave": selected.group(1),
        "heard": unescape(heard).strip(),
        "cell": unescape(cell),
        "planned": "Ask the directorate's team leaders what works for them.",
        "owner_name": "Head of HR",
        "status": "not started",
    }
    due = [("due_on", "1"), ("due_on", "3"), ("due_on", "2027")]  # day, month, year
    saved = analyst.post("/actions/new", data=MultiDict([*form.items(), *due]))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    detail = analyst.get(saved.headers["Location"]).get_data(as_text=True)
    assert unescape(cell) in unescape(detail)
    assert f'href="/dashboard/heatmap/staff-pulse?wave={wave}">See the heatmap of {wave}' in detail
    with demo.app_context():
        saved_cell = db.select(Action.cell).where(Action.title == "Look into the difference")
        assert db.session.scalar(saved_cell) == unescape(cell)
    viewer = _client(demo, "viewer@council.example")
    assert "/actions/new" not in viewer.get(heatmap).get_data(as_text=True)
    # a link naming no survey fills nothing in, and breaks nothing
    blank = analyst.get("/actions/new?instrument=nope&cell=x&heard=y")
    assert blank.status_code == 200 and 'value="x"' not in blank.get_data(as_text=True)
