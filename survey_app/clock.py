"""The council's clock: every date the app derives is a day in Europe/London.

The server may run in UTC (or anywhere): between midnight and 01:00 London time in summer,
``datetime.date.today()`` on a UTC server is still yesterday in the council's terms, so a wave
would open an hour late and "today" on a page would be wrong. Every "today" in the app comes
from :func:`today` instead.

Tests move the clock through the app's ``CLOCK`` setting: a callable returning an aware
``datetime`` (e.g. ``lambda: datetime(2026, 3, 29, 23, 30, tzinfo=UTC)``), read on every call
so that one app can be moved forward (a wave closing) within one test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

COUNCIL_TIME_ZONE = ZoneInfo("Europe/London")

Clock = Callable[[], dt.datetime]


def _system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The current time in Europe/London (aware), from the app's ``CLOCK`` if one is set."""
    clock: Clock = (
        current_app.config.get("CLOCK") or _system_now if has_app_context() else _system_now
    )
    current = clock()
    if current.tzinfo is None:
        raise ValueError("CLOCK must return an aware datetime (with tzinfo), not a naive one")
    return current.astimezone(COUNCIL_TIME_ZONE)


def today() -> dt.date:
    """Today's date in Europe/London."""
    return now().date()
