"""Migration 0009 on SQLite and PostgreSQL: rows held under the old schema are sealed and
still release, responses and answers survive the SQLite rebuild without ``rowid`` (with
foreign keys on again afterwards), and the downgrade gives everything back."""

from __future__ import annotations

import datetime as dt

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from survey_app.extensions import db
from survey_app.survey.store import release_held

from ..conftest import make_app
from .survey_helpers import make_wave

OLD_PAYLOAD = '{"answers": {"M01": "4", "M90": "Held before the upgrade"}, "attributes": {}}'


def _sqlite_without_rowid(table: str) -> bool:
    sql = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
    return "WITHOUT ROWID" in sql.upper()


def test_upgrade_seals_held_rows_and_downgrade_opens_them(database_url) -> None:
    app = make_app(database_url)
    with app.app_context():
        upgrade(revision="0005")
        wave = make_wave("member-pulse")
        wave_id = wave.id
        db.session.execute(
            text(
                "INSERT INTO response (id, wave_id, submitted_on, channel, attributes) "
                "VALUES ('r1', :w, :d, 'web', '{}')"
            ),
            {"w": wave_id, "d": dt.date.today()},
        )
        db.session.execute(
            text("INSERT INTO answer (response_id, question_id, value) VALUES ('r1', 'M01', '5')")
        )
        db.session.execute(
            text(
                "INSERT INTO held_submission (id, wave_id, payload, held_on) VALUES ('h1', :w, :p, :d)"
            ),
            {"w": wave_id, "p": OLD_PAYLOAD, "d": dt.date.today()},
        )
        db.session.commit()

        upgrade()
        sealed = db.session.execute(text("SELECT * FROM held_submission")).mappings().one()
        assert set(sealed) == {"id", "wave_id", "sealed"}
        assert b"Held before the upgrade" not in bytes(sealed["sealed"])
        assert db.session.scalar(text("SELECT value FROM answer WHERE response_id = 'r1'")) == "5"
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:
            for table in ("response", "answer", "held_submission", "invite_tag", "submission_key"):
                assert _sqlite_without_rowid(table), table
            assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
        db.session.commit()

        downgrade(revision="0005")
        held = db.session.execute(text("SELECT payload, held_on FROM held_submission")).one()
        assert "Held before the upgrade" in str(held[0])
        if sqlite:
            assert not _sqlite_without_rowid("response")
            assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
        db.session.commit()

        upgrade()  # and up again: the held row still opens and releases
        assert release_held(wave_id, force=True) == 1
        comments = set(
            db.session.scalars(text("SELECT value FROM answer WHERE question_id = 'M90'"))
        )
        assert comments == {"Held before the upgrade"}
        assert db.session.scalar(text("SELECT count(*) FROM response")) == 2
        db.session.remove()
        db.engine.dispose()
