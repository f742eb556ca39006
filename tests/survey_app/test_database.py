"""Schema, migrations and database behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import (
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    bindparam,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from instruments import load_definitions
from survey_app.database import DriverStatement, execute
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Answer, InstrumentVersion, Invitation, Response, Wave, WaveMode

TABLES = {
    "instrument_version",
    "wave",
    "event",
    "invitation",
    "response",
    "answer",
    "population_margin",
    "user_account",
    "kpi_value",
    "audit_log",
    "alembic_version",
}


def test_migrations_build_the_schema_and_upgrade_is_idempotent(db_app) -> None:
    with db_app.app_context():
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        upgrade()  # a second upgrade changes nothing and does not fail
        with db.engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert drift == [], f"models and migrations disagree: {drift}"


def test_response_tables_hold_nothing_that_identifies(db_app) -> None:
    with db_app.app_context():
        inspector = inspect(db.engine)
        response_columns = {c["name"] for c in inspector.get_columns("response")}
        assert response_columns == {
            "id",
            "wave_id",
            "event_id",
            "submitted_on",
            "channel",
            "attributes",
            "weight",
        }
        types = {c["name"]: str(c["type"]).upper() for c in inspector.get_columns("response")}
        assert types["submitted_on"] == "DATE"  # a day, never a time
        assert {c["name"] for c in inspector.get_columns("answer")} == {
            "response_id",
            "question_id",
            "value",
        }
        invitation = {c["name"] for c in inspector.get_columns("invitation")}
        assert not {"used_at", "created_at", "response_id"} & invitation


def _wave(label: str = "2026-Q1") -> Wave:
    definitions = load_definitions()
    load_instruments(definitions)
    version = db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
    )
    wave = Wave(
        label=label,
        instrument_version=version,
        audience="members",
        mode=WaveMode.INVITE,
        opens_on=dt.date(2026, 1, 1),
        closes_on=dt.date(2026, 1, 31),
        audience_size=49,
    )
    db.session.add(wave)
    db.session.commit()
    return wave


def test_constraints_are_enforced_by_the_database(db_app) -> None:
    with db_app.app_context():
        wave = _wave()
        db.session.add_all(
            [
                Invitation(wave_id=wave.id, token_hash="a" * 64),
                Invitation(wave_id=wave.id, token_hash="a" * 64),
            ]
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(
            Wave(
                label="bad",
                instrument_version_id=wave.instrument_version_id,
                audience="members",
                mode=WaveMode.OPEN,
                opens_on=dt.date(2026, 2, 1),
                closes_on=dt.date(2026, 1, 1),
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(Answer(response_id="nonexistent", question_id="M01", value="4"))
        with pytest.raises(IntegrityError):  # foreign keys are on, SQLite included
            db.session.commit()
        db.session.rollback()


def test_response_ids_are_random_and_answers_cascade(db_app) -> None:
    with db_app.app_context():
        wave = _wave()
        responses = [
            Response(
                wave_id=wave.id,
                submitted_on=dt.date(2026, 1, 5),
                answers=[Answer(question_id="M01", value="4")],
            )
            for _ in range(20)
        ]
        db.session.add_all(responses)
        db.session.commit()
        ids = [r.id for r in responses]
        assert len(set(ids)) == 20 and all(len(i) == 32 for i in ids)
        assert ids != sorted(ids)  # not sequential: 20 random ids are sorted with p = 1/20!
        db.session.delete(responses[0])
        db.session.commit()
        assert db.session.scalar(select(db.func.count()).select_from(Answer)) == 19


def test_instrument_load_never_duplicates_a_version(db_app) -> None:
    with db_app.app_context():
        definitions = load_definitions()
        first = load_instruments(definitions)
        second = load_instruments(definitions)
        assert all(r.created for r in first) and not any(r.created for r in second)
        assert db.session.scalar(select(db.func.count()).select_from(InstrumentVersion)) == len(
            definitions.instruments
        )


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(app) -> None:
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_concurrent_sqlite_writers_queue_instead_of_failing(app) -> None:
    import threading

    with app.app_context():
        wave_id = _wave().id
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                for _ in range(n):
                    # read-then-write in one transaction: the pattern that deadlocks into
                    # "database is locked" without BEGIN IMMEDIATE
                    db.session.scalar(select(db.func.count()).select_from(Response))
                    db.session.add(Response(wave_id=wave_id, submitted_on=dt.date(2026, 1, 5)))
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(15,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Response)) == 90


# --------------------------------------------------------------------------- driver statements


def _scratch_table():
    metadata = MetaData()
    return Table(
        "driver_scratch",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("payload", LargeBinary, nullable=False),
        Column("day", Date, nullable=False),
    )


def test_a_driver_statement_stores_and_returns_as_its_core_statement_would(database_url) -> None:
    scratch = _scratch_table()
    engine = create_engine(database_url)
    try:
        scratch.metadata.create_all(engine)
        added = DriverStatement(
            scratch.insert()
            .from_select(
                ["id", "payload", "day"],
                select(
                    bindparam("row_id", type_=Integer),
                    bindparam("payload", type_=LargeBinary),
                    bindparam("day", type_=Date),
                ),
            )
            .returning(scratch.c.id)
        )
        day = dt.date(2026, 12, 2)
        with engine.begin() as connection:
            for row_id, payload in ((1, b"\x00\xffsealed"), (2, bytes(range(256)))):
                parameters = {"row_id": row_id, "payload": payload, "day": day, "unused": 7}
                assert execute(connection, added, parameters).scalar_one() == row_id
            # errors are SQLAlchemy's, as for Core
            with pytest.raises(IntegrityError), connection.begin_nested():
                execute(connection, added, {"row_id": 1, "payload": b"", "day": day})
        with engine.connect() as connection:
            rows = connection.execute(select(scratch).order_by(scratch.c.id)).all()
        assert [tuple(r) for r in rows] == [
            (1, b"\x00\xffsealed", day),
            (2, bytes(range(256)), day),
        ]
    finally:
        scratch.metadata.drop_all(engine)
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(
            lambda t: select(t.c.id).where(t.c.id.in_(bindparam("ids", expanding=True))),
            id="in-list",
        ),
        pytest.param(lambda t: select(t.c.id).where(t.c.id == 3), id="own-value"),
        pytest.param(
            lambda t: select(t.c.id).where(t.c.id == bindparam("a id")), id="escaped-name"
        ),
    ],
)
def test_a_driver_statement_refuses_what_it_cannot_run_as_compiled(statement) -> None:
    prepared = DriverStatement(statement(_scratch_table()))
    with pytest.raises(ValueError, match="DriverStatement needs every parameter"):
        prepared.compiled_for(postgresql.psycopg.dialect())
    assert prepared.compiled_for(sqlite.dialect()) is None  # positional: run as Core
