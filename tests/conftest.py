"""Shared fixtures (Flask tutorial style: ``app``, ``client``, ``runner``).

Databases: ``app`` runs on a fresh SQLite file; ``db_app`` runs each test twice, on SQLite
and on PostgreSQL (``TEST_DATABASE_URL``). Every test run creates its own uniquely named
PostgreSQL database and drops it at the end, so concurrent runs never see each other's data.
Under ``CI=true`` a skipped test is a failure: CI must exercise PostgreSQL and the browser.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# R reference values (shared/golden), kept in the repository so the suite runs wherever it is
# cloned; tests/analysis/test_golden_copy.py checks the copy against shared/ when present.
GOLDEN_DIR = REPO / "tests" / "golden"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {reason}"


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL tests need it)")
    if not url.startswith("postgresql"):
        pytest.fail(f"TEST_DATABASE_URL must be a postgresql URL, not {url!r}")
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """A database of this test run's own, dropped afterwards."""
    server = make_url(postgres_server_url)
    name = f"pulse_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.skip(
            f"cannot create a PostgreSQL test database at {server.render_as_string()}: {exc}"
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# --------------------------------------------------------------------------- apps


def make_app(database_url: str, **overrides):
    from survey_app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, **overrides})


def _app_with_schema(database_url: str, **overrides):
    from flask_migrate import upgrade

    from survey_app.extensions import db

    app = make_app(database_url, **overrides)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path):
    """The app on a fresh SQLite file with the schema migrated."""
    yield from _app_with_schema(f"sqlite:///{tmp_path / 'pulse.db'}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or this run's PostgreSQL database (emptied after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pulse.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    yield url
    _reset_postgres(url)


@pytest.fixture
def db_app(database_url: str):
    """The app with the schema migrated, once on SQLite and once on PostgreSQL."""
    yield from _app_with_schema(database_url)


@pytest.fixture
def cached_app(database_url: str):
    """``db_app`` with respondents' pages served from each process's copy of a wave for an
    hour (production keeps it for seconds; testing otherwise reads it every time)."""
    yield from _app_with_schema(database_url, WAVE_CACHE_SECONDS=3600)


@pytest.fixture
def app_with(database_url: str):
    """Builds apps on one migrated database (SQLite, then PostgreSQL) with the given
    configuration overrides. Several apps on one database stand for several processes: each
    has its own engine, pool, sessions and job backend."""
    from flask_migrate import upgrade

    from survey_app.extensions import db

    made = []

    def build(**overrides):
        app = make_app(database_url, **overrides)
        with app.app_context():
            upgrade()
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN_DIR


# --------------------------------------------------------------------------- e-mail


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this name
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:  # a free loopback port for this test's SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, mailbox
    controller.stop()
