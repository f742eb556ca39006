"""Slowing down guesses at the second step: five wrong codes (authenticator or recovery) for
one account within fifteen minutes, or twenty within a day, make that account's second step
wait until the oldest of them is out of the window.

Only someone who already knows the password reaches this step. A six-digit code has a million
values, of which three are accepted at any time (one step of clock drift either way), so
twenty guesses a day give a guesser about one chance in 16,700 a day. Counters live in the
rate-limit storage, like the password step's (``survey_app.auth.throttle``), never in the
database; each wrong code is in the audit log. A successful sign-in does not clear them,
so an attacker's guesses cannot be wiped by the real user signing in between them.
"""

from __future__ import annotations

from ...ratelimit import limit, moving_window

LIMITS = (limit("5/15minute"), limit("20/day"))
_NAMESPACE = "second-factor"


def _key(user_id: int) -> str:
    return f"user:{user_id}"


def exhausted(user_id: int) -> bool:
    window = moving_window()
    return any(not window.test(item, _NAMESPACE, _key(user_id)) for item in LIMITS)


def record_failure(user_id: int) -> None:
    window = moving_window()
    for item in LIMITS:
        window.hit(item, _NAMESPACE, _key(user_id))
