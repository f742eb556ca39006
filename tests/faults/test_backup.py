"""`flask db-backup` / `db-restore`: a backup restored into a fresh database has the same
rows; restoring over a database that has tables needs --force."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from survey_app.definitions import current_definitions
from survey_app.extensions import db
from tests.conftest import make_app
from tests.survey_app.survey_helpers import answer_pages, full_answers, make_wave, release_all, send

TABLES = ("instrument_version", "wave", "response", "answer", "submission_key")


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
        }


@pytest.fixture
def fresh_database_url(database_url: str, tmp_path):
    """A second, empty database of the same kind as ``database_url``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"pulse_restore_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_backup_restores_into_a_fresh_database(database_url, fresh_database_url, tmp_path):
    from flask_migrate import upgrade

    source = make_app(database_url)
    with source.app_context():
        upgrade()
        wave = make_wave("resident-perception")
        slug = wave.slug
        instrument = current_definitions().instrument("resident-perception")
    for seed in range(3):
        client = source.test_client()
        client.get(f"/s/{slug}")
        check = answer_pages(client, slug, instrument, full_answers(instrument, seed))
        assert send(client, slug, check).status_code == 303
    assert release_all(source) == 3  # web submissions are held until a release (holding)
    before = _counts(source)
    assert before["response"] == 3

    backup = tmp_path / "pulse.backup"
    result = source.test_cli_runner().invoke(args=["db-backup", "--out", str(backup)])
    assert result.exit_code == 0, result.output
    assert backup.stat().st_size > 0
    with source.app_context():
        db.engine.dispose()

    target = make_app(fresh_database_url)
    result = target.test_cli_runner().invoke(args=["db-restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert _counts(target) == before

    again = target.test_cli_runner().invoke(args=["db-restore", str(backup)])
    assert again.exit_code == 1
    assert "not empty" in again.output
    forced = target.test_cli_runner().invoke(args=["db-restore", "--force", str(backup)])
    assert forced.exit_code == 0, forced.output
    assert _counts(target) == before
    with target.app_context():
        db.engine.dispose()
