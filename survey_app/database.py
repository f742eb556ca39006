"""Engine behaviour per database.

SQLite is opened in WAL mode with foreign keys enforced, a busy timeout and ``BEGIN
IMMEDIATE`` transactions, so concurrent writers queue for the lock instead of failing with
"database is locked" half-way through a transaction. PostgreSQL connections are pre-pinged so
that a restarted server does not leave broken connections in the pool.

:func:`standalone_connection` gives the respondent pages' statements that are complete in
themselves (reading the wave or a draft, saving a draft, holding a submission in one
statement) a connection of their own engine on PostgreSQL (:func:`init_statement_engine`):
in autocommit mode, one round trip each instead of ``BEGIN``, the statement and ``COMMIT``;
and not pre-pinged, which would be a second round trip. Instead a statement that fails
because its connection had gone (a restarted server) is run once more on a new connection
(SQLAlchemy's "optimistic" disconnect handling): every such statement can be repeated
safely (a read; a draft's upsert; a hold, whose repeat after a commit that was made but not
acknowledged finds its idempotency key claimed and is reported as sent).

A statement run on every send (:class:`DriverStatement`) is compiled once per dialect and
run as its SQL (``exec_driver_sql``): SQLAlchemy's work for each execution of a compiled
statement (its cache, parameters, processors and result metadata) is about 100 us of CPU,
more than a third of what the send's holding statement costs its process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVarTuple, cast, overload

from flask import Flask, current_app, g
from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import TypedReturnsRows

from .extensions import db

_Row = TypeVarTuple("_Row")

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
_STATEMENT_ENGINE = "pulse_statement_engine"


def init_statement_engine(app: Flask, engine: Engine) -> None:
    """PostgreSQL: the engine of :func:`standalone_connection`, beside the ORM's ``engine``,
    on the same database with the same options except two. It is in autocommit mode from
    the start (no isolation level set and reset at every checkout) and is not pre-pinged
    (see the module's docstring). Its pool is disposed of with ``engine``'s, through
    SQLAlchemy's ``engine_disposed`` event. Each request takes at most one of its
    connections, so it never holds more than the server has threads."""
    if engine.dialect.name != "postgresql":
        return
    options = {
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        "pool_pre_ping": False,
        "isolation_level": "AUTOCOMMIT",
    }
    statements = create_engine(engine.url, **options)
    app.extensions[_STATEMENT_ENGINE] = statements

    @event.listens_for(engine, "engine_disposed")
    def _dispose_statements(_engine: Engine) -> None:
        statements.dispose()


def app_engines() -> tuple[Engine, ...]:
    """Every engine of the current app: the ORM's and, on PostgreSQL, the statement engine
    (for instance to listen to every statement the app runs)."""
    statements = current_app.extensions.get(_STATEMENT_ENGINE)
    return (db.engine,) if statements is None else (db.engine, statements)


_Processor = Callable[[Any], Any]


class DriverStatement:
    """A Core statement run as the SQL it compiles to (compiled once per dialect), with
    each parameter converted as its type's ``bind_processor`` says, as SQLAlchemy would
    (bytes for a ``LargeBinary``, for instance).

    For a statement run often whose parameters are all given by name and whose result is
    read as the driver returns it: counts or ids, not values that need a type's result
    processing. A statement that renders its parameters at execution time (an ``IN``
    list, a literal), holds a value of its own or whose parameter names need escaping is
    refused when it is first compiled, with a ``ValueError``."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, dict[str, _Processor]]] = {}

    def compiled_for(self, dialect: Dialect) -> tuple[str, dict[str, _Processor]] | None:
        """The SQL for ``dialect`` and the processors of the parameters that have one; None
        for a dialect whose driver takes parameters by position (SQLite's), on which the
        statement is run as the Core statement it is."""
        if dialect.positional:
            return None
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = cast(ClauseElement, self.statement).compile(dialect=dialect)
            if (
                not isinstance(compiled, SQLCompiler)
                or compiled.escaped_bind_names
                or compiled.literal_execute_params
                or compiled.post_compile_params
                or not all(bind.required for bind in compiled.binds.values())
            ):
                raise ValueError(
                    "a DriverStatement needs every parameter given by name at execution and "
                    f"rendered at compile time on {dialect.name}: {str(compiled)[:200]!r}"
                )
            processors: dict[str, _Processor] = {}
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            found = (str(compiled), processors)
            self._compiled[dialect.name] = found
        return found

    def execute_on(
        self, connection: Connection, parameters: dict[str, Any]
    ) -> CursorResult[*tuple[Any, ...]]:
        compiled = self.compiled_for(connection.dialect)
        if compiled is None:
            return connection.execute(self.statement, parameters)
        sql, processors = compiled
        converted = {
            name: processors[name](value) if name in processors else value
            for name, value in parameters.items()
        }
        return connection.exec_driver_sql(sql, converted)


def execute(
    connection: Executor,
    statement: Executable | DriverStatement,
    parameters: dict[str, Any] | None = None,
) -> CursorResult[*tuple[Any, ...]]:
    """Run ``statement`` on either kind of connection, a :class:`DriverStatement` as its SQL."""
    if isinstance(connection, StandaloneConnection):
        return connection.execute(statement, parameters)
    if isinstance(statement, DriverStatement):
        return statement.execute_on(connection, parameters or {})
    return connection.execute(statement, parameters)


class StandaloneConnection:
    """An autocommit connection of the statement engine, taken from its pool at the first
    statement and kept for the app context; a statement whose connection turns out to
    have gone is run once more on a new one (see the module's docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @overload
    def execute(
        self, statement: TypedReturnsRows[*_Row], parameters: dict[str, Any] | None = None
    ) -> CursorResult[*_Row]: ...

    @overload
    def execute(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> CursorResult[*tuple[Any, ...]]: ...

    @overload
    def execute(
        self, statement: DriverStatement, parameters: dict[str, Any] | None = None
    ) -> CursorResult[*tuple[Any, ...]]: ...

    def execute(
        self, statement: Executable | DriverStatement, parameters: dict[str, Any] | None = None
    ) -> CursorResult[*tuple[Any, ...]]:
        for attempt in (1, 2):
            if self._connection is not None and self._connection.invalidated:
                self.close()  # gone at an earlier statement of this request
            if self._connection is None:
                self._connection = self._engine.connect()
            try:
                return execute(self._connection, statement, parameters)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                # SQLAlchemy has marked every connection of the pool older than this one
                # as stale: the next checkout opens a fresh one.
                self.close()
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


Executor = Connection | StandaloneConnection
"""What runs a statement: a connection in a transaction, or a standalone one."""


def standalone_connection() -> StandaloneConnection | None:
    """On PostgreSQL, when this app context's ORM session has nothing under way (no
    transaction begun, nothing pending), an autocommit connection for statements that are
    complete in themselves: a read, or a write that is atomic on its own and can be
    repeated (see the module's docstring). One per app context, returned at its teardown.

    Otherwise None, and the caller uses the session: work under way belongs to its
    transaction, and on SQLite a second connection would wait for the session's lock (SQLite
    is in process: a BEGIN costs no round trip there)."""
    engine: Engine | None = current_app.extensions.get(_STATEMENT_ENGINE)
    if engine is None:
        return None
    if db.session.registry.has():
        session = db.session()
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            return None
    found: StandaloneConnection | None = g.get(_STANDALONE)
    if found is None:
        found = StandaloneConnection(engine)
        setattr(g, _STANDALONE, found)
    return found


def close_standalone_connection(_error: BaseException | None = None) -> None:
    """Return the app context's autocommit connection to the pool (a teardown function)."""
    found = g.pop(_STANDALONE, None)
    if found is not None:
        found.close()
