"""Migration 0010 (wave_publication) upgrades and downgrades on SQLite and PostgreSQL."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from survey_app.extensions import db


def test_wave_publication_migration_goes_down_and_up_again(db_app) -> None:
    with db_app.app_context():
        assert "wave_publication" in inspect(db.engine).get_table_names()
        downgrade(revision="0005")
        assert "wave_publication" not in inspect(db.engine).get_table_names()
        upgrade()
        columns = {c["name"] for c in inspect(db.engine).get_columns("wave_publication")}
        assert columns == {
            "id",
            "wave_id",
            "published_at",
            "published_by_id",
            "reason",
            "responses",
            "tables",
        }
