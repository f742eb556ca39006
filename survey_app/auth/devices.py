"""Device cookies: browsers that have signed in to an account before (OWASP, "Slow Down
Online Guessing Attacks with Device Cookies").

After a successful sign-in the browser gets a signed cookie naming the account (by the
HMAC of :func:`.throttle.account_key`, never the address itself) and a random nonce. When
it next tries that account, it is a *known* browser: the account's lockout, which an
attacker elsewhere may have triggered, does not hold it back; only its own failures do
(:func:`.throttle.device_locked`). The cookie is separate from the session, so signing
out (which ends the session) leaves it: a shared office browser remembers up to
:data:`MAX_ACCOUNTS` accounts.
"""

from __future__ import annotations

import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from .throttle import device_locked

COOKIE = "pulse_device"
MAX_ACCOUNTS = 5
MAX_AGE = 180 * 24 * 3600


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sign-in-device")


def _entries() -> list[tuple[str, str]]:
    """The (account, nonce) pairs of this request's device cookie; none if it is missing,
    altered or signed with another key."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    return [
        (str(pair[0]), str(pair[1])) for pair in data if isinstance(pair, list) and len(pair) == 2
    ][:MAX_ACCOUNTS]


def known_device(account: str) -> str | None:
    """This browser's device nonce for ``account`` if it has signed in to it before and has
    not used up its own failures; ``None`` means it is treated as an unknown browser."""
    for entry_account, nonce in _entries():
        if entry_account == account:
            return None if device_locked(nonce) else nonce
    return None


def remember_device(response: Response, account: str) -> None:
    """Give this browser a fresh device nonce for ``account`` (after a successful sign-in),
    keeping its other accounts, most recent first."""
    others = [entry for entry in _entries() if entry[0] != account]
    entries = [(account, secrets.token_urlsafe(16)), *others][:MAX_ACCOUNTS]
    response.set_cookie(
        COOKIE,
        _serializer().dumps([list(entry) for entry in entries]),
        max_age=MAX_AGE,
        path="/auth/",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Strict",
    )
