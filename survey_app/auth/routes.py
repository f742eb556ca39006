from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from ..audit import record
from ..extensions import db, limiter
from ..mail import MailNotConfigured, send
from ..models import User
from ..security import hash_password, verify_password
from . import bp
from .forms import ChangePasswordForm, ResetForm, ResetRequestForm, SignInForm
from .mfa.flow import after_password
from .navigation import home, safe_next
from .throttle import clear_account, is_throttled, record_failure

RESET_MAX_AGE = 3600
# A real hash to verify against when the account does not exist, so that the time a failed
# sign-in takes does not tell an attacker whether the email address has an account.
_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


def _find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = SignInForm()
    if form.validate_on_submit():
        email, address = form.email.data, request.remote_addr
        if is_throttled(email, address):
            form.email.errors = ["Too many failed attempts. Wait 15 minutes and try again."]
            return render_template("auth/sign_in.html", form=form, title="Sign in"), 429
        user = _find_user(email)
        valid = verify_password(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is None or not valid or not user.active:
            record_failure(email, address)
            record("sign-in failed", user_id=user.id if user else None, account_exists=user is not None)
            db.session.commit()
            form.email.errors = ["Enter a correct email address and password"]
            return render_template("auth/sign_in.html", form=form, title="Sign in"), 200
        clear_account(email)
        return after_password(user, request.args.get("next"))  # the second factor, then signed in
    return render_template("auth/sign_in.html", form=form, title="Sign in")


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        record("sign-out")
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors = ["Your current password is not correct"]
        else:
            current_user.password_hash = hash_password(form.new_password.data)
            record("password changed")
            db.session.commit()
            flash("Your password has been changed.", "success")
            return redirect(home())
    return render_template("auth/change_password.html", form=form, title="Change your password")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def reset_token(user: User) -> str:
    # The token carries part of the current hash, so it stops working once used.
    return _serializer().dumps({"id": user.id, "h": user.password_hash[-16:]})


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = _find_user(form.email.data)
        if user is not None and user.active:
            link = url_for("auth.reset_link", token=reset_token(user), _external=True)
            body = (f"Someone asked to reset the password for {user.email} on Improvement Pulse.\n\n"
                    f"Use this link within one hour to choose a new password:\n{link}\n\n"
                    "If it was not you, ignore this email: your password has not changed.")
            try:
                send([(user.email, "Reset your Improvement Pulse password", body)])
            except (MailNotConfigured, OSError) as exc:
                current_app.logger.error("password reset email not sent: %s", type(exc).__name__)
            record("password reset requested", user_id=user.id)
            db.session.commit()
        # The same answer whether or not the account exists.
        return render_template("auth/reset_sent.html", title="Check your email")
    return render_template("auth/reset_request.html", form=form, title="Reset your password")


@bp.get("/reset/<token>")
def reset_link(token: str):
    # Move the token out of the address at once, so logs and referrers never hold it.
    session["reset_token"] = token
    return redirect(url_for("auth.reset_password"))


@bp.route("/reset/new", methods=["GET", "POST"])
def reset_password():
    token = session.get("reset_token")
    user = None
    if token:
        try:
            data = _serializer().loads(token, max_age=RESET_MAX_AGE)
            user = db.session.get(User, int(data["id"]))
            if user is None or user.password_hash[-16:] != data["h"] or not user.active:
                user = None
        except (SignatureExpired, BadSignature, KeyError, TypeError, ValueError):
            user = None
    if user is None:
        session.pop("reset_token", None)
        return render_template("auth/reset_invalid.html", title="Reset link not valid"), 400
    form = ResetForm()
    if form.validate_on_submit():
        user.password_hash = hash_password(form.new_password.data)
        record("password reset", user_id=user.id)
        db.session.commit()
        session.pop("reset_token", None)
        clear_account(user.email)
        flash("Your password has been set. Sign in with it now.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset.html", form=form, title="Choose a new password")
