"""Who responded (issue 18 section 3) in the app: an analyst uploads group sizes (all or
nothing, each bad row named); the results compute response rates and representation ratios
per wave, suppressed below the minimum, and store them; a wave's page shows only the total
during fieldwork and, once closed and released, the stored table (out of date once sizes
change); residents' raking margins count as sizes."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from sqlalchemy import func, select

from survey_app import clock
from survey_app.extensions import db
from survey_app.models import GroupSize, PopulationMargin, Response, Role, WaveMode
from survey_app.results import compute_results, data_fingerprint, latest_results
from survey_app.who_responded import who_responded_for_wave

from .helpers import add_user, audit_actions, csrf, sign_in
from .survey_helpers import make_wave

GOOD = (
    "attribute,value,size\n"
    "directorate,Place,400\n"
    "directorate,Resources and Place Delivery,200\n"
    "directorate,Children's Services,100\n"
)


def _upload(client, text: str, audience: str = "staff"):
    return client.post(
        "/programme/group-sizes",
        data={
            "csrf_token": csrf(client, "/programme/group-sizes"),
            "audience": audience,
            "file": (io.BytesIO(text.encode()), "sizes.csv"),
        },
        content_type="multipart/form-data",
    )


def _analyst(app, client) -> None:
    add_user(app, "analyst@council.example", Role.ANALYST)
    assert sign_in(client, "analyst@council.example").status_code == 302


def _sizes(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(GroupSize))


def test_a_bad_size_file_is_refused_whole_with_each_row_named(app, client) -> None:
    _analyst(app, client)
    bad = (
        "attribute,value,size\n"
        "directorate,Place,400\n"
        "directorat,Place,10\n"
        "directorate,Finance,10\n"
        "directorate,Children's Services,many\n"
        "directorate,Place,300\n"
    )
    with app.app_context():
        make_wave("staff-pulse")  # loads the shipped instruments
    refused = _upload(client, bad)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Row 3: &#39;directorat&#39; is not an attribute the staff surveys ask" in page
    assert "Row 4: &#39;Finance&#39; is not an answer to directorate" in page
    assert "Row 5: the size must be a whole number of people" in page
    assert "Row 6: directorate = Place is already on row 2" in page
    assert _sizes(app) == 0  # nothing from it stored
    missing = _upload(client, "attribute,value\ndirectorate,Place\n")
    assert "needs the columns attribute, value and size" in missing.get_data(as_text=True)


def test_the_wave_page_shows_who_responded_only_once_fieldwork_is_over(app, client) -> None:
    _analyst(app, client)
    with app.app_context():
        closed = make_wave("staff-pulse", WaveMode.OPEN, opens=-30, closes=-2, label="2026-Q3")
        live = make_wave("staff-pulse", WaveMode.OPEN, label="2026-Q4")
        day = clock.today() - dt.timedelta(days=10)
        groups = {"Place": 60, "Resources and Place Delivery": 30, "Children's Services": 4}
        for wave in (closed, live):
            for directorate, count in groups.items():
                for _ in range(count):
                    db.session.add(
                        Response(
                            wave_id=wave.id,
                            submitted_on=day,
                            attributes={"directorate": directorate},
                        )
                    )
        db.session.commit()
        closed_id, live_id = closed.id, live.id
    page = client.get(f"/programme/waves/{closed_id}").get_data(as_text=True)
    assert "There are no group sizes for staff" in page
    with app.app_context():
        before = data_fingerprint()
    upload = _upload(client, GOOD)
    assert upload.status_code == 302
    assert "group sizes uploaded" in audit_actions(app)
    assert _sizes(app) == 3
    with app.app_context():
        # sizes uploaded after the results were computed make them out of date
        assert data_fingerprint() != before
    page = client.get(f"/programme/waves/{closed_id}").get_data(as_text=True)
    assert "the results have none for this wave yet" in page
    assert "Who responded by directorate" not in page
    with app.app_context():
        compute_results()

    page = client.get(f"/programme/waves/{closed_id}").get_data(as_text=True)
    assert "Who responded by directorate" in page
    assert "The data have changed since then" not in page
    assert "15%" in page  # Place: 60 of 400
    assert "1.12" in page  # Place: (60/94) / (400/700)
    # Children's Services (4) is below 10, and Resources is hidden with it so neither can be subtracted
    assert page.count("not reported") >= 2 and "8%" not in page and "4%" not in page
    live_page = client.get(f"/programme/waves/{live_id}").get_data(as_text=True)
    assert "94 received so far" in live_page
    assert "Who responded by directorate" not in live_page and "15%" not in live_page

    # the same tables for the quarterly report's methodology section, closed waves only
    from flask import render_template

    from survey_app.models import Wave

    with app.app_context(), app.test_request_context():
        waves = [db.session.get(Wave, closed_id), db.session.get(Wave, live_id)]
        result = latest_results()[0]
        report = render_template("reports/_who_responded.html", waves=waves, result=result)
        # the rows are stored with the results: the live wave's too, never shown while live
        stored = pd.DataFrame(result.tables["who_responded"])
        assert set(stored["wave"]) == {"2026-Q3", "2026-Q4"}
    assert report.count('aria-label="Who responded by directorate"') == 1 and "2026-Q3" in report
    assert "2026-Q4" not in report

    # a new file replaces the sizes of the attributes it has, and the stored table is out of
    # date, as every figure is when its data change, until the results are recomputed
    assert _upload(client, "attribute,value,size\ndirectorate,Place,600\n").status_code == 302
    assert _sizes(app) == 1
    page = client.get(f"/programme/waves/{closed_id}").get_data(as_text=True)
    assert "The data have changed since then" in page and "15%" in page
    with app.app_context():
        compute_results()
    page = client.get(f"/programme/waves/{closed_id}").get_data(as_text=True)
    assert "The data have changed since then" not in page
    assert "10%" in page and "15%" not in page  # Place: 60 of 600


def test_residents_raking_margins_count_as_their_sizes(app) -> None:
    with app.app_context():
        wave = make_wave("resident-perception", WaveMode.OPEN, opens=-30, closes=-2)
        instrument = wave.instrument_version.instrument
        attribute = instrument.attributes[0]
        first, second = attribute.choices[:2]
        db.session.add_all(
            [
                PopulationMargin(
                    audience="residents", variable=attribute.id, category=first, population=3000
                ),
                PopulationMargin(
                    audience="residents", variable=attribute.id, category=second, population=1000
                ),
            ]
        )
        for value, count in ((first, 30), (second, 30)):
            db.session.add_all(
                Response(
                    wave_id=wave.id,
                    submitted_on=wave.opens_on,
                    attributes={attribute.id: value},
                )
                for _ in range(count)
            )
        db.session.commit()
        compute_results()
        table = who_responded_for_wave(wave, latest_results()[0]).table.set_index("value")
        assert table.loc[first, "population"] == 3000
        assert abs(table.loc[first, "representation"] - 0.5 / 0.75) < 1e-12
        assert abs(table.loc[second, "response_rate"] - 3.0) < 1e-12
