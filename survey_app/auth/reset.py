"""Password-reset links: one-time, signed, valid for an hour, always on ``BASE_URL``.

A token carries the user's id and the end of their current password hash, so it stops
working once the password changes (it is used, or the user changes it themselves).
:func:`send_password_reset` is a module-level function so the job queue can run it: the
reset page answers at once whether or not the address has an account.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..links import public_url
from ..mail import send
from ..models import User

RESET_MAX_AGE = 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def reset_token(user: User) -> str:
    return _serializer().dumps({"id": user.id, "h": user.password_hash[-16:]})


def reset_link(user: User) -> str:
    """The address of ``user``'s one-time reset page (raises ``BaseUrlNotSet`` without
    ``BASE_URL``)."""
    return public_url("auth.reset_link", token=reset_token(user))


def user_for_token(token: str | None) -> User | None:
    """The active user a reset token is for, or ``None`` if it is altered, older than an
    hour, or already used (the password has changed since)."""
    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
        user = db.session.get(User, int(data["id"]))
    except (SignatureExpired, BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or user.password_hash[-16:] != data["h"] or not user.active:
        return None
    return user


def send_password_reset(user_id: int) -> None:
    """E-mail the user a reset link (a background job: runs in an app context of its own)."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return
    body = (
        f"Someone asked to reset the password for {user.email} on Improvement Pulse.\n\n"
        f"Use this link within one hour to choose a new password:\n{reset_link(user)}\n\n"
        "If it was not you, ignore this email: your password has not changed."
    )
    send([(user.email, "Reset your Improvement Pulse password", body)])
