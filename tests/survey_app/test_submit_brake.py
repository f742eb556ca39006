"""The submit brake counts per wave and per event, not per address alone: a roadshow of 300
on one Wi-Fi gets through, one wave's or event's brake never stops another's respondents,
and a flood (from one address, or spread over many) is still refused, with the answers
kept."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import HeldSubmission
from survey_app.ratelimit import submit_allowed

from ..conftest import make_app
from .survey_helpers import answer_pages, make_wave, send


def _app(tmp_path, **limits):
    app = make_app(f"sqlite:///{tmp_path / 'brake.db'}", **limits)
    with app.app_context():
        upgrade()
    return app


def _held(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(HeldSubmission))


def _send(
    app,
    slug: str,
    instrument,
    answers: dict,
    *,
    address: str = "203.0.113.7",
    event_code: str | None = None,
):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if event_code:
        assert client.get(f"/e/{event_code}").status_code == 303
    return send(client, slug, answer_pages(client, slug, instrument, answers))


def test_one_address_is_braked_per_wave_not_across_waves(tmp_path) -> None:
    app = _app(tmp_path, SURVEY_SUBMIT_RATE_LIMIT="2 per hour")
    with app.app_context():
        staff, residents = make_wave("staff-pulse"), make_wave("resident-perception")
        waves = [(w.slug, w.instrument_version.instrument) for w in (staff, residents)]
    (staff_slug, staff_form), (resident_slug, resident_form) = waves
    for _ in range(2):
        assert _send(app, staff_slug, staff_form, {"S01": "4"}).status_code == 303
    refused = _send(app, staff_slug, staff_form, {"S01": "5", "S90": "kept for later"})
    page = refused.get_data(as_text=True)
    assert (
        refused.status_code == 429 and "have not been sent yet" in page and "kept for later" in page
    )
    # the same address, another wave: not braked by the first wave's sends
    assert _send(app, resident_slug, resident_form, {"P01": "3"}).status_code == 303
    assert _held(app) == 3


def test_one_address_is_braked_per_event(tmp_path) -> None:
    app = _app(tmp_path, SURVEY_SUBMIT_RATE_LIMIT="2 per hour")
    with app.app_context():
        wave = make_wave("staff-roadshow")
        slug, instrument = wave.slug, wave.instrument_version.instrument
        first, second = (e.code for e in wave.events)
    for _ in range(2):
        assert _send(app, slug, instrument, {"R01": "4"}, event_code=first).status_code == 303
    assert _send(app, slug, instrument, {"R01": "4"}, event_code=first).status_code == 429
    # the next session of the roadshow, on the same Wi-Fi, starts with its own count
    assert _send(app, slug, instrument, {"R01": "4"}, event_code=second).status_code == 303
    assert _held(app) == 3


def test_a_flood_spread_over_many_addresses_is_refused_per_wave(tmp_path) -> None:
    app = _app(
        tmp_path,
        SURVEY_SUBMIT_RATE_LIMIT="100 per hour",
        SURVEY_WAVE_SUBMIT_RATE_LIMIT="3 per hour",
    )
    with app.app_context():
        wave = make_wave("staff-pulse")
        slug, instrument = wave.slug, wave.instrument_version.instrument
        other = make_wave("resident-perception")
        other_slug, other_form = other.slug, other.instrument_version.instrument
    statuses = [
        _send(app, slug, instrument, {"S01": "4"}, address=f"198.51.100.{i}").status_code
        for i in range(5)
    ]
    assert statuses == [303, 303, 303, 429, 429]
    assert (
        _send(app, other_slug, other_form, {"P01": "3"}, address="198.51.100.9").status_code == 303
    )
    assert _held(app) == 4


def test_the_default_brake_lets_a_roadshow_of_300_on_one_wifi_through_and_stops_a_flood(
    tmp_path,
) -> None:
    app = _app(tmp_path)
    with app.test_request_context():
        roadshow = [submit_allowed(7, 1, "192.0.2.1") for _ in range(300)]
        assert all(roadshow)  # 300 people in one hall, one address, within ten minutes
        flood = [submit_allowed(7, 1, "192.0.2.1") for _ in range(1_000)]
        assert flood.count(True) == 300 and not any(flood[300:])  # 600 per address per event
        # the other events and waves of the same address are untouched
        assert submit_allowed(7, 2, "192.0.2.1") and submit_allowed(8, None, "192.0.2.1")
