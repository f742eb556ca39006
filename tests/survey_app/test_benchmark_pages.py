"""Published benchmarks beside the measure on the drill-down, labelled honestly, and never
part of a status (issue 17 §4)."""

from __future__ import annotations

import re
import shutil

from instruments import SHIPPED_DIR, load_definitions
from survey_app.demo import seed_demo
from survey_app.models import Role
from survey_app.results import compute_results

from .helpers import add_user, sign_in


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_drilldown_shows_the_lga_benchmarks_as_indicative_and_status_ignores_them(
    app, client, tmp_path
) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=2)
        compute_results()
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    page = _text(client.get("/dashboard/outcomes/O12/residents").get_data(as_text=True))
    assert "Compared with published figures" in page
    assert "Residents satisfied with the way their local council runs things" in page
    assert "67% (February 2021), 75% (July 2020), 61% (June 2018)" in page
    assert "Indicative: the published question wording is not recorded here" in page
    assert "as published by the LGA, not re-checked here" in page
    assert re.search(r"Ours \d+% positive in 2026-Q\d \(P01\)", page), page
    assert "Residents who trust their local council" in page  # P03 is an O12 question too
    # O5's residents' questions include P04 (informed), not P01
    o5 = _text(client.get("/dashboard/outcomes/O5/residents").get_data(as_text=True))
    assert "keeps them informed" in o5
    assert "Residents satisfied with the way their local council runs things" not in o5
    # members are not compared with a survey of residents
    members = client.get("/dashboard/outcomes/O12/members").get_data(as_text=True)
    assert "Compared with published figures" not in members

    # the same results without the benchmarks file: every status and figure is the same
    with_benchmarks = client.get("/dashboard/scorecard.csv").data
    bare = tmp_path / "definitions"
    shutil.copytree(SHIPPED_DIR, bare)
    (bare / "benchmarks.yaml").unlink()
    app.config["INSTRUMENTS_DIR"] = str(bare)
    assert "Compared with published figures" not in client.get(
        "/dashboard/outcomes/O12/residents"
    ).get_data(as_text=True)
    assert client.get("/dashboard/scorecard.csv").data == with_benchmarks
