"""Rate limits. Counters live in the rate-limit storage (``RATELIMIT_STORAGE_URI``: memory for
one process, Redis for several workers).

* Route limits are Flask-Limiter decorators (``@limiter.limit``) on a
  :class:`RouteLimiter`.
* Failed sign-ins (auth/throttle.py) and survey submissions count through the ``limits``
  library that Flask-Limiter is built on, used directly: on the survey's hot path
  Flask-Limiter's per-request machinery would cost more than the limit itself.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, current_app
from flask_limiter import Limiter
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


# Settings that only Flask-Limiter's per-request hooks would apply.
_NEEDS_REQUEST_HOOKS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META",
                        "RATELIMIT_HEADERS_ENABLED")


class RouteLimiter(Limiter):
    """Flask-Limiter for route decorators only. A decorated route checks its limits in its
    own wrapper; the hooks Flask-Limiter adds to every request serve default, application
    and meta limits, rate-limit headers and conditional deductions, none of which this app
    uses, and cost about 4% of a survey submit's CPU. So they are not installed, and a
    setting that would need them is refused."""

    def init_app(self, app: Flask) -> None:
        wanted = [name for name in _NEEDS_REQUEST_HOOKS if app.config.get(name)]
        if self.limit_manager.default_limits or self.limit_manager.application_limits:
            wanted.append("default or application limits")
        if wanted:
            raise ValueError("RouteLimiter applies route decorators only; remove "
                             + ", ".join(wanted))
        hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
        kept = [{scope: list(funcs) for scope, funcs in registry.items()} for registry in hooks]
        super().init_app(app)
        for registry, before in zip(hooks, kept, strict=True):
            registry.clear()
            registry.update(before)
