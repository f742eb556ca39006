"""Two-way breakdowns in the app (issue 18, section 1): the framework's ``crossed_breakdowns``
(staff: directorate*grade) are computed and stored with the results, offered on the heatmap
page and downloadable; and no suppressed crossed cell can be recovered from every table the
app publishes for a wave, downloaded over HTTP (the subtraction attack of
``tests/subtraction.py``, as the CLI's test runs it on the analysis tables)."""

from __future__ import annotations

import html
import io
import re
from urllib.parse import unquote

import pandas as pd
import pytest
from flask_migrate import upgrade

from instruments import load_definitions
from survey_app.models import Role

from ..conftest import make_app
from ..subtraction import attack, published_counts
from .helpers import add_user, sign_in

CROSSED = "directorate*grade"
ANALYST = "analyst@council.example"
UNIT = ["wave", "level", "id"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo council with its results computed, once for the module (reading only)."""
    from survey_app.demo import seed_demo
    from survey_app.extensions import db
    from survey_app.results import compute_results

    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('crossed') / 'pulse.db'}")
    with app.app_context():
        upgrade()
        seed_demo(load_definitions(), seed=2)
        compute_results()
    add_user(app, ANALYST, Role.ANALYST)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def analyst(demo):
    client = demo.test_client()
    assert sign_in(client, ANALYST).status_code == 302
    return client


def _csv(client, link: str) -> pd.DataFrame:
    response = client.get(link)
    assert response.status_code == 200, link
    frame = pd.read_csv(io.BytesIO(response.data), dtype=str, keep_default_na=False)
    if "suppressed" in frame:
        frame["suppressed"] = frame["suppressed"].str.lower()
    return frame


def _links(page: str, pattern: str) -> list[str]:
    return sorted({unquote(html.unescape(m)) for m in re.findall(pattern, page)})


def test_the_crossed_breakdown_is_offered_shown_and_downloaded(demo, analyst) -> None:
    page = analyst.get("/dashboard/heatmap/staff-pulse").get_data(as_text=True)
    assert f'<option value="{CROSSED}">directorate × grade</option>' in page
    waves = re.findall(r'<option value="(\d{4}-Q\d)"', page)
    crossed = analyst.get(f"/dashboard/heatmap/staff-pulse?wave={waves[0]}&by={CROSSED}")
    text = crossed.get_data(as_text=True)
    assert f"{waves[0]}: each group against the rest, by directorate × grade" in text
    # cells headed "Place × Senior manager", never with the CLI's *
    headers = re.findall(r'<th scope="col" class="govuk-table__header">([^<]+)</th>', text)
    groups = [h for h in headers if " × " in h]
    assert "Place × Senior manager" in groups and not any("*" in h for h in headers)
    link = _links(text, r'href="(/dashboard/heatmap/staff-pulse/[^"]+\.csv)"')[0]
    assert link == f"/dashboard/heatmap/staff-pulse/{waves[0]}/{CROSSED}.csv"
    frame = _csv(analyst, link)
    assert "Place*Senior manager" in set(frame["group"])
    assert len(set(frame["group"])) == len(groups)
    hidden = frame[frame["suppressed"] == "true"]
    assert (
        len(hidden) and (hidden[["n", "estimate", "rest_estimate", "difference"]] == "").all().all()
    )
    shown = frame[frame["suppressed"] == "false"]
    assert len(shown) and (pd.to_numeric(shown["n"]) >= 10).all()
    excel = analyst.get(link.replace(".csv", ".xlsx"))
    assert excel.status_code == 200 and excel.data[:2] == b"PK"
    # the outcome page's breakdowns name the crossing and its cells the same way
    outcome = analyst.get("/dashboard/outcomes/O1/staff").get_data(as_text=True)
    assert "Outcome score by directorate × grade" in outcome
    assert ">Place × Senior manager</th>" in outcome


def test_no_suppressed_crossed_cell_is_recoverable_from_every_published_table(
    demo, analyst
) -> None:
    """Every table the app publishes for the staff pulse's waves, downloaded as a user
    would: the heatmap by each attribute and crossed, each outcome page's trend, questions
    and breakdowns (one-way and crossed), the scorecard and the indices. Conservatively, the
    attacker also knows every whole-audience count (the CLI's indicators publish them)."""
    from survey_app.results import latest_results, table

    page = analyst.get("/dashboard/heatmap/staff-pulse").get_data(as_text=True)
    waves = re.findall(r'<option value="(\d{4}-Q\d)"', page)
    attributes = re.findall(r'<option value="([a-z_*]+)"', page)
    assert set(attributes) == {"directorate", "grade", CROSSED}
    heatmaps = []
    for wave in waves:
        for by in attributes:
            frame = _csv(analyst, f"/dashboard/heatmap/staff-pulse/{wave}/{by}.csv")
            heatmaps.append(frame.assign(wave=wave, by=by))
    cells = pd.concat(heatmaps, ignore_index=True)
    published = [cells[[*UNIT, "by", "group", "n"]]]

    # the outcome pages: every download they link to for the staff pulse
    framework = load_definitions().framework
    breakdowns = {}  # (outcome, by) -> the long download: a row per group and wave
    for outcome in framework.outcomes:
        text = analyst.get(f"/dashboard/outcomes/{outcome.id}/staff").get_data(as_text=True)
        prefix = f"/dashboard/outcomes/{outcome.id}/staff/staff-pulse/"
        for link in _links(text, rf'href="({re.escape(prefix)}[^"]+\.csv)"'):
            frame = _csv(analyst, link)
            name = link.removeprefix(prefix).removesuffix(".csv")
            if name == "trend":
                trend = frame.assign(level="outcome", id=outcome.id, by="", group="")
                published.append(trend[[*UNIT, "by", "group", "n"]])
            elif name.startswith("by-"):
                breakdowns[(outcome.id, name[3:])] = frame.set_index(["group", "wave"])
                # its n per group and wave is published too: the attacker has it
                published.append(
                    frame.assign(level="outcome", id=outcome.id)[[*UNIT, "by", "group", "n"]]
                )
    assert {by for _, by in breakdowns} == set(attributes)
    scorecard = _csv(analyst, "/dashboard/scorecard.csv")
    indices = _csv(analyst, "/dashboard/indices.csv")
    assert len(scorecard) and len(indices)
    staff_indices = indices[indices["instrument"] == "staff-pulse"]
    published.append(
        staff_indices.assign(level="index", id=staff_indices["index"], by="", group="")[
            [*UNIT, "by", "group", "n"]
        ]
    )
    with demo.app_context():
        stored = table(latest_results()[0], "indicators")
    whole = stored[(stored["instrument"] == "staff-pulse") & stored["by"].isna()]
    published.append(whole.assign(by="", group="")[[*UNIT, "by", "group", "n"]])
    for frame in published:
        frame["n"] = pd.to_numeric(frame["n"].replace("", None))

    counts = published_counts(published, UNIT)
    crossed = cells[cells["by"] == CROSSED]
    hidden = crossed[crossed["suppressed"] == "true"]
    assert len(hidden) > 10 and (crossed["suppressed"] == "false").any()
    problems = []
    for key, unit in counts.groupby(UNIT):
        groups = crossed.loc[
            (crossed[UNIT] == pd.Series(key, index=UNIT)).all(axis=1), "group"
        ].tolist()
        if groups:
            problems += [f"{key}: {p}" for p in attack(unit, groups, 10, CROSSED)]
    assert problems == []
    # nor is a hidden cell's estimate shown anywhere: the crossed breakdown of each outcome
    # page is blank wherever the heatmap hides the cell
    checked = 0
    for row in hidden[hidden["level"] == "outcome"].itertuples():
        long = breakdowns[(row.id, CROSSED)]
        if (row.group, row.wave) in long.index:
            shown = long.loc[(row.group, row.wave)]
            assert (shown["estimate"], shown["n"]) == ("", ""), (row.id, row.group, row.wave)
            checked += 1
    assert checked > 10
