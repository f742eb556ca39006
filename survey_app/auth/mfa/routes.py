"""Pages of the second step: the code, a recovery code, setting up an authenticator app, and
the signed-in user's own two-factor page."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from ... import two_factor
from ...audit import record
from ...extensions import db, limiter
from ...models import SecondFactor, User
from ...two_factor import CodeCheck, SecondFactorUnreadable
from .. import bp
from ..navigation import home, safe_next
from . import attempts
from .flow import (
    PendingSignIn,
    mark_verified,
    pending_sign_in,
    require_verified_session,
    start_session,
)
from .forms import CodeForm, RecoveryCodeForm, SetUpForm
from .remember import remember, remember_seconds

SETUP_SECRET_KEY = "mfa_setup_secret"
CODE_TITLE = "Enter the code from your authenticator app"
RECOVERY_TITLE = "Enter a recovery code"
SETUP_WRONG = (
    "The code is not correct. Check the app shows an entry for Improvement Pulse, then "
    "enter the code it shows now"
)
TOO_MANY = (
    "Too many wrong codes have been entered for this account. Wait at least 15 minutes, then "
    "sign in again. If this keeps happening, tell an administrator: someone may know your "
    "password."
)
UNREADABLE = (
    "Your authenticator app cannot be checked because the service's secret key has changed. "
    "Use a recovery code, or ask an administrator to reset your two-factor sign-in."
)

bp.before_app_request(require_verified_session)


@bp.record_once
def _check_configuration(state) -> None:
    # A mistyped role or an over-long remember time stops the app at start-up, not at sign-in.
    two_factor.parse_required_roles(state.app.config.get("MFA_REQUIRED_ROLES", ""))
    remember_seconds(state.app.config)


def _sign_in_again():
    flash("Your sign-in timed out before it was finished. Sign in again.", "info")
    return redirect(url_for("auth.sign_in"))


def _too_many(template: str, form, title: str, **context):
    form.code.errors = [TOO_MANY]
    return render_template(template, form=form, title=title, **context), 429


def _wrong(pending: PendingSignIn, form, message: str) -> None:
    attempts.record_failure(pending.user.id)
    record("second factor failed", user_id=pending.user.id)
    db.session.commit()
    form.code.errors = [message]


@bp.route("/code", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def mfa_code():
    pending = pending_sign_in()
    if pending is None:
        return _sign_in_again()
    factor = two_factor.factor_of(pending.user.id)
    if factor is None:  # reset while they were signing in
        return redirect(url_for("auth.mfa_setup"))
    form = CodeForm()
    form.remember.label.text = (
        f"Do not ask for a code on this browser for {remember_seconds() / 3600:g} hours"
    )
    if form.validate_on_submit():
        if attempts.exhausted(pending.user.id):
            return _too_many(
                "auth/mfa_code.html", form, CODE_TITLE, remember_hours=remember_seconds() / 3600
            )
        try:
            outcome = two_factor.check_code(factor, form.code.data)
        except SecondFactorUnreadable:
            current_app.logger.warning(
                "second factor of user %s does not open with SECRET_KEY", pending.user.id
            )
            form.code.errors = [UNREADABLE]
        else:
            if outcome is CodeCheck.ACCEPTED:
                start_session(pending.user, factor, how="authenticator app")
                response = redirect(safe_next(pending.next_url))
                if form.remember.data:
                    remember(response, factor)
                return response
            _wrong(
                pending,
                form,
                "That code has already been used. Wait for your app to show a new code, "
                "then enter it"
                if outcome is CodeCheck.REUSED
                else "The code is not correct. Check your authenticator app and enter the code "
                "it shows now",
            )
    return render_template(
        "auth/mfa_code.html", form=form, title=CODE_TITLE, remember_hours=remember_seconds() / 3600
    )


@bp.route("/recovery-code", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def mfa_recovery():
    pending = pending_sign_in()
    if pending is None:
        return _sign_in_again()
    factor = two_factor.factor_of(pending.user.id)
    if factor is None:
        return redirect(url_for("auth.mfa_setup"))
    form = RecoveryCodeForm()
    if form.validate_on_submit():
        if attempts.exhausted(pending.user.id):
            return _too_many("auth/mfa_recovery.html", form, RECOVERY_TITLE)
        if two_factor.use_recovery_code(factor, form.code.data):
            left = two_factor.recovery_codes_left(factor)
            start_session(pending.user, factor, how="recovery code")
            flash(
                f"You used a recovery code. You have {left} left: each works once. If you have "
                "lost your authenticator app, ask an administrator to reset your two-factor "
                "sign-in so you can set up a new one.",
                "info",
            )
            return redirect(safe_next(pending.next_url))
        _wrong(pending, form, "The recovery code is not correct, or it has already been used")
    return render_template("auth/mfa_recovery.html", form=form, title=RECOVERY_TITLE)


def _who_is_setting_up() -> tuple[User | None, PendingSignIn | None]:
    if current_user.is_authenticated:
        return current_user._get_current_object(), None
    pending = pending_sign_in()
    return (pending.user if pending else None), pending


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def mfa_setup():
    user, pending = _who_is_setting_up()
    if user is None:
        return _sign_in_again()
    if two_factor.factor_of(user.id) is not None:
        # Replacing a working factor goes through an admin's reset, which is audited.
        return redirect(url_for("auth.mfa_code") if pending else url_for("auth.mfa_settings"))
    secret = session.get(SETUP_SECRET_KEY) or two_factor.new_secret()
    session[SETUP_SECRET_KEY] = secret  # the same QR code on a reload, until it is confirmed
    form = SetUpForm()
    if form.validate_on_submit():
        codes = two_factor.enrol(user, secret, form.code.data)
        if codes is not None:
            return _show_recovery_codes(user, pending, codes)
        form.code.errors = [SETUP_WRONG]
    uri = two_factor.setup_uri(secret, user.email)
    return render_template(
        "auth/mfa_setup.html",
        form=form,
        title="Set up two-factor sign-in",
        qr=two_factor.qr_data_uri(uri),
        secret=two_factor.grouped(secret),
        account=user.email,
        required=two_factor.is_required(user),
        pending=pending is not None,
    )


def _show_recovery_codes(user: User, pending: PendingSignIn | None, codes: list[str]):
    """The new recovery codes, shown in this response only (never stored in clear, never
    put in a cookie); the sign-in completes here when it was pending."""
    factor: SecondFactor = two_factor.factor_of(user.id)  # type: ignore[assignment]
    session.pop(SETUP_SECRET_KEY, None)
    if pending is not None:
        start_session(user, factor, how="authenticator app (set up)")
        continue_to = safe_next(pending.next_url)
    else:
        mark_verified(factor)
        continue_to = url_for("auth.mfa_settings")
    response = current_app.make_response(
        render_template(
            "auth/mfa_recovery_codes.html",
            title="Save your recovery codes",
            codes=codes,
            continue_to=continue_to,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/two-factor")
@login_required
def mfa_settings():
    factor = two_factor.factor_of(current_user.id)
    return render_template(
        "auth/mfa_settings.html",
        title="Two-factor sign-in",
        factor=factor,
        codes_left=two_factor.recovery_codes_left(factor) if factor else 0,
        required=two_factor.is_required(current_user),
        home=home(),
    )
