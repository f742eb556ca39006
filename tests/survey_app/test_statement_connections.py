"""PostgreSQL: respondents' statements that are complete in themselves run on an engine of
their own (autocommit, not pre-pinged, see ``survey_app.database``). A connection that has
gone (a restarted server, a killed backend) costs a respondent nothing: the statement is run
again on a new one. The engine's connections are closed with the app's engine."""

from __future__ import annotations

import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from survey_app.extensions import db
from survey_app.models import WaveMode
from survey_app.survey.forms import pages_of
from tests.conftest import _reset_postgres, make_app

from .survey_helpers import csrf_of, full_answers, make_wave, released_answers, send

pytestmark = pytest.mark.postgres

_OTHER_BACKENDS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
def postgres_app(postgres_database):
    _reset_postgres(postgres_database)
    app = make_app(postgres_database)
    with app.app_context():
        upgrade()
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    yield app, admin
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    admin.dispose()
    _reset_postgres(postgres_database)


def _cut_every_connection(admin) -> int:
    """Terminate every backend of the database but the admin's (waiting until each has
    gone); how many there were."""
    with admin.connect() as connection:
        return len(
            connection.execute(
                text(f"SELECT pg_terminate_backend(pid, 5000) {_OTHER_BACKENDS}")
            ).all()
        )


def _connections(admin) -> int:
    with admin.connect() as connection:
        return connection.execute(text(f"SELECT count(*) {_OTHER_BACKENDS}")).scalar_one()


def _connections_once_settled(admin, seconds: float = 10.0) -> int:
    """How many other backends are left once those whose clients have hung up have exited:
    a backend leaves ``pg_stat_activity`` a moment after its socket closes, longer on a
    busy machine."""
    deadline = time.monotonic() + seconds
    while (left := _connections(admin)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_a_respondent_whose_connections_are_cut_before_every_request_loses_nothing(
    postgres_app,
) -> None:
    app, admin = postgres_app
    with app.app_context():
        wave = make_wave("staff-pulse", WaveMode.OPEN)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    answers = full_answers(instrument, seed=5)
    client = app.test_client()
    assert client.get(f"/s/{slug}").status_code == 200
    cut = 0
    for page in pages_of(instrument):
        cut += _cut_every_connection(admin)
        form_page = client.get(f"/s/{slug}/{page.number}")
        assert form_page.status_code == 200
        data = {"csrf_token": csrf_of(form_page.get_data(as_text=True))}
        data.update({f: answers[f] for f in page.field_ids if f in answers})
        cut += _cut_every_connection(admin)
        posted = client.post(f"/s/{slug}/{page.number}", data=data)
        assert posted.status_code == 303, posted.get_data(as_text=True)[:500]
    cut += _cut_every_connection(admin)
    check = client.get(f"/s/{slug}/check")
    assert check.status_code == 200
    cut += _cut_every_connection(admin)
    sent = send(client, slug, check.get_data(as_text=True))
    assert sent.status_code == 303 and sent.headers["Location"] == f"/s/{slug}/done"
    # The cuts met pooled connections that the next request would have used.
    assert cut >= 2 * len(pages_of(instrument))
    assert released_answers(app) == [{q.id: answers[q.id] for q in instrument.questions}]


def test_the_statement_connections_close_with_the_apps_engine(postgres_app) -> None:
    app, admin = postgres_app
    with app.app_context():
        wave = make_wave("staff-pulse", WaveMode.OPEN)
        slug = wave.slug
    client = app.test_client()
    for path in (f"/s/{slug}", f"/s/{slug}/1"):  # read the wave and the draft
        page = client.get(path)
        assert page.status_code == 200
        page.close()  # the request's teardown returns its connection
    with app.app_context():
        db.session.remove()
        assert _connections(admin) >= 1
        db.engine.dispose()
    assert _connections_once_settled(admin) == 0
