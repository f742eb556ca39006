""" "Do not ask again on this browser": a signed, HttpOnly cookie naming the user and the
enrolment of their second factor, valid for ``MFA_REMEMBER_HOURS`` (at most 12).

It is only sent to the sign-in page (its path), and only skips the code there after the
password has been accepted. Because it carries the enrolment id, resetting or replacing the
second factor makes every remembered browser ask for a code again.
"""

from __future__ import annotations

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from ...config import ConfigError
from ...models import SecondFactor

COOKIE = "pulse_second_factor"
MAX_HOURS = 12


def remember_seconds(config: dict | None = None) -> int:
    """``MFA_REMEMBER_HOURS`` in seconds.

    Raises
    ------
    ConfigError
        If it is not a number of hours from 0 to 12.
    """
    value = (config or current_app.config).get("MFA_REMEMBER_HOURS", MAX_HOURS)
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"MFA_REMEMBER_HOURS={value!r} is not a number of hours") from None
    if not 0 <= hours <= MAX_HOURS:
        raise ConfigError(
            f"MFA_REMEMBER_HOURS={value!r}: a browser may be remembered for 0 to {MAX_HOURS} hours"
        )
    return int(hours * 3600)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="second-factor-remembered")


def is_remembered(factor: SecondFactor) -> bool:
    """This browser holds an unexpired cookie for this user and this enrolment."""
    token = request.cookies.get(COOKIE)
    seconds = remember_seconds()
    if not token or not seconds:
        return False
    try:
        data = _serializer().loads(token, max_age=seconds)
    except BadSignature:  # includes an expired signature
        return False
    return data == {"u": factor.user_id, "e": factor.enrolment}


def remember(response: Response, factor: SecondFactor) -> None:
    seconds = remember_seconds()
    if not seconds:
        return
    response.set_cookie(
        COOKIE,
        _serializer().dumps({"u": factor.user_id, "e": factor.enrolment}),
        max_age=seconds,
        path=url_for("auth.sign_in"),
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
