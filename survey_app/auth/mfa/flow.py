"""Where sign-in goes after the password is accepted, and the check on every staff request.

Between the password and the second factor, the session holds only a *pending* sign-in
(the user's id, where they were going, when the password was accepted; for ten minutes).
The user is not signed in: every staff page still sends them to sign in, and only the code,
recovery-code and set-up pages read the pending sign-in.

A signed-in session records which enrolment of the second factor it was verified with
(``""`` for a user who signs in without one). On every request from a signed-in user,
:func:`require_verified_session` compares that with the user's factor now: if an admin reset
it, or it was set up from another session, or the user's role now requires one they do not
have, the session drops back to a pending sign-in and the user is asked for a code, or sent
to set one up, before they can reach anything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from ... import two_factor
from ...audit import record
from ...extensions import db
from ...models import SecondFactor, User
from ..navigation import safe_next
from .remember import is_remembered

PENDING_KEY = "mfa_pending"
VERIFIED_KEY = "mfa_verified"
PENDING_SECONDS = 600
# A signed-in user whose session needs the second step may still sign out and load styles.
EXEMPT_ENDPOINTS = frozenset({"static", "auth.sign_out"})


@dataclass(frozen=True)
class PendingSignIn:
    """A password accepted for ``user`` in this session, waiting for the second step."""

    user: User
    next_url: str | None


def after_password(user: User, next_url: str | None) -> Response:
    """The response to a correct password: signed in at once if this browser is remembered
    for the user's second factor, or the user has none and their role does not require one;
    otherwise on to the code page, or to set-up."""
    factor = two_factor.factor_of(user.id)
    if factor is not None and is_remembered(factor):
        start_session(user, factor, how="remembered browser")
        return redirect(safe_next(next_url))
    if factor is None and not two_factor.is_required(user):
        start_session(user, None, how="none")
        return redirect(safe_next(next_url))
    return _to_second_step(user, factor, next_url)


def _to_second_step(user: User, factor: SecondFactor | None, next_url: str | None) -> Response:
    session.clear()  # nothing from before the password step carries over
    session[PENDING_KEY] = {"user": user.id, "next": next_url, "since": int(time.time())}
    return redirect(url_for("auth.mfa_code" if factor is not None else "auth.mfa_setup"))


def pending_sign_in() -> PendingSignIn | None:
    """This session's pending sign-in, if it is recent and the account still active."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    user = db.session.get(User, data.get("user")) if isinstance(data.get("user"), int) else None
    if (
        time.time() - float(data.get("since", 0)) > PENDING_SECONDS
        or user is None
        or not user.active
    ):
        end_pending()
        return None
    return PendingSignIn(user=user, next_url=data.get("next"))


def end_pending() -> None:
    session.pop(PENDING_KEY, None)


def start_session(user: User, factor: SecondFactor | None, how: str) -> None:
    """Sign ``user`` in on a fresh session (no fixation), verified with ``factor``, and audit
    it with ``how`` the second step was passed. Commits."""
    session.clear()
    login_user(user)
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
    mark_verified(factor)
    record("sign-in", user_id=user.id, second_factor=how)
    db.session.commit()


def mark_verified(factor: SecondFactor | None) -> None:
    """Record in the signed-in session that it passed the second step with ``factor``."""
    session[VERIFIED_KEY] = factor.enrolment if factor is not None else ""


def require_verified_session() -> Response | None:
    """``before_app_request``: a signed-in session that was not verified with the user's
    current second factor (or lacks one its role requires) goes back to the second step."""
    if "_user_id" not in session or request.endpoint in EXEMPT_ENDPOINTS:
        return None  # respondents and signed-out visitors: no database look-up
    if not current_user.is_authenticated:
        return None
    user: User = current_user._get_current_object()
    factor = two_factor.factor_of(user.id)
    if factor is not None and session.get(VERIFIED_KEY) == factor.enrolment:
        return None
    if factor is None and not two_factor.is_required(user):
        return None
    next_url = request.full_path.rstrip("?") if request.method == "GET" else None
    logout_user()
    return _to_second_step(user, factor, next_url)
