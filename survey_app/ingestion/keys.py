"""Idempotency keys: every submission claims its form's random key (stored as a SHA-256,
with the day), so the same form posted twice stores one response (:class:`Duplicate` for the
second), and unique tags tell which constraint a failed insert broke."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Executable, String, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from ..database import DriverStatement, Executor, execute
from ..models import InviteTag, SubmissionKey, Wave
from .errors import AlreadyUsed, Duplicate


def wave_open_on(day):
    """Whether wave ``wave_id`` is open on ``day`` (an EXISTS clause)."""
    return (
        select(Wave.id)
        .where(Wave.id == bindparam("wave_id"), Wave.opens_on <= day, Wave.closes_on >= day)
        .exists()
    )


def claim_key_statement(only_while_open: bool, after=None):
    """INSERT the idempotency key's hash (``key_hash``, ``day``); when ``only_while_open``,
    only if wave ``wave_id`` is open on ``day``, so that a closed wave stores nothing; with
    ``after`` (a CTE), once for each of its rows."""
    day = bindparam("day", type_=Date)
    row = select(bindparam("key_hash", type_=String), day)
    if after is not None:
        row = row.select_from(after)
    if only_while_open:
        row = row.where(wave_open_on(day))
    # SQLAlchemy counts the rows an INSERT wrote only when asked to
    return (
        insert(SubmissionKey.__table__)
        .from_select(["key_hash", "used_on"], row)
        .execution_options(preserve_rowcount=True)
    )


CLAIM_KEY = {flag: claim_key_statement(flag) for flag in (False, True)}

_KEY_TABLE, _TAG_TABLE = SubmissionKey.__tablename__, InviteTag.__tablename__


def _broken_table(exc: IntegrityError) -> str | None:
    """The table whose primary key ``exc`` broke, if it is one of ours (PostgreSQL names
    the constraint, SQLite the table and column in its message)."""
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    names = {
        str(SubmissionKey.__table__.primary_key.name): _KEY_TABLE,
        str(InviteTag.__table__.primary_key.name): _TAG_TABLE,
    }
    if constraint is not None:
        return names.get(constraint)
    message = str(exc.orig)
    return next((table for table in (_KEY_TABLE, _TAG_TABLE) if f"{table}." in message), None)


def execute_claiming(
    connection: Executor, statement: Executable | DriverStatement, parameters: dict[str, Any]
):
    """Execute a statement that claims the idempotency key or an invitation's tag:
    :class:`Duplicate` if the key was claimed before, :class:`AlreadyUsed` if the tag was;
    any other integrity error is raised as it is."""
    try:
        return execute(connection, statement, parameters)
    except IntegrityError as exc:
        table = _broken_table(exc)
        if table == _KEY_TABLE:
            raise Duplicate from None
        if table == _TAG_TABLE:
            raise AlreadyUsed from None
        raise
