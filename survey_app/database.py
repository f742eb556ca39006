"""Engine behaviour per database.

SQLite is opened in WAL mode with foreign keys enforced, a busy timeout and ``BEGIN
IMMEDIATE`` transactions, so concurrent writers queue for the lock instead of failing with
"database is locked" half-way through a transaction. PostgreSQL connections are pre-pinged so
that a restarted server does not leave broken connections in the pool.

:func:`standalone_connection` gives the respondent pages' statements that are complete in
themselves (reading a draft, saving one, holding a submission in one statement) a
PostgreSQL connection in autocommit mode: one round trip each instead of ``BEGIN``, the
statement and ``COMMIT``.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url

from .extensions import db

SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine_options(database_uri: str) -> dict[str, Any]:
    url = make_url(database_uri)
    # Statement parameters are answers: never put them in an error message or a log line.
    private = {"hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        return {
            **private,
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        }
    return {
        **private,
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 10,
        "pool_recycle": 1800,
    }


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_STANDALONE = "_pulse_standalone_connection"


def standalone_connection() -> Connection | None:
    """On PostgreSQL, when this app context's ORM session has nothing under way (no
    transaction begun, nothing pending), a connection in autocommit mode for a statement that
    is complete in itself: a read, or a write that is atomic on its own. Taken from the pool
    once per app context (one pre-ping) and returned at its teardown.

    Otherwise None, and the caller uses the session: work under way belongs to its
    transaction, and on SQLite a second connection would wait for the session's lock (SQLite
    is in process: a BEGIN costs no round trip there)."""
    if db.engine.dialect.name != "postgresql":
        return None
    if db.session.registry.has():
        session = db.session()
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            return None
    found: Connection | None = g.get(_STANDALONE)
    if found is not None and found.invalidated:  # the server went away: start afresh
        found.close()
        found = None
    if found is None:
        found = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        setattr(g, _STANDALONE, found)
    return found


def close_standalone_connection(_error: BaseException | None = None) -> None:
    """Return the app context's autocommit connection to the pool (a teardown function)."""
    found = g.pop(_STANDALONE, None)
    if found is not None:
        found.close()
