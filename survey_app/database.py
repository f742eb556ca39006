"""Engine behaviour per database.

SQLite is opened in WAL mode with foreign keys enforced, a busy timeout and ``BEGIN
IMMEDIATE`` transactions, so concurrent writers queue for the lock instead of failing with
"database is locked" half-way through a transaction. PostgreSQL connections are pre-pinged so
that a restarted server does not leave broken connections in the pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

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
