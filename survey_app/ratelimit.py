"""Rate-limit counters kept in the rate-limit storage (``RATELIMIT_STORAGE_URI``: memory for
one process, Redis for several workers), through the ``limits`` library that Flask-Limiter
is built on. Used directly where Flask-Limiter's per-request machinery would cost more than
the limit itself: failed sign-ins (auth/throttle.py) and survey submissions."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter


def storage() -> Storage:
    """The app's counter storage, opened once per process."""
    found = current_app.extensions.get("pulse_ratelimit_storage")
    if found is None:
        found = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        current_app.extensions["pulse_ratelimit_storage"] = found
    return found


def moving_window() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage())


def fixed_window() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(storage())


@lru_cache(maxsize=32)
def limit(text: str) -> RateLimitItem:
    """``"100 per 10 minutes"`` as a limit (parsed once)."""
    return parse(text)
