"""Slowing down repeated failed sign-ins, per account and per address.

Counters live in the rate-limit storage (memory for one process, Redis for several workers),
so the database never records who tried to sign in from where. Five failures in fifteen
minutes make that account (or address) wait fifteen minutes; nothing locks permanently, so an
attacker cannot lock an admin out for good, and an admin can lift a wait early.
"""

from __future__ import annotations

import hashlib

from ..ratelimit import limit, moving_window

FAILURES = limit("5/15minute")


def _keys(email: str, address: str | None) -> list[str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return [f"account:{account}", f"address:{address or 'unknown'}"]


def is_throttled(email: str, address: str | None) -> bool:
    limiter = moving_window()
    return any(not limiter.test(FAILURES, "sign-in", key) for key in _keys(email, address))


def record_failure(email: str, address: str | None) -> None:
    limiter = moving_window()
    for key in _keys(email, address):
        limiter.hit(FAILURES, "sign-in", key)


def clear_account(email: str) -> None:
    """Lift the wait on an account (admin action, or after a successful sign-in)."""
    limiter = moving_window()
    limiter.clear(FAILURES, "sign-in", _keys(email, None)[0])
