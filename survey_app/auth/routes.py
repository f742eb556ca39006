from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..audit import record
from ..extensions import db, limiter
from ..jobs import enqueue
from ..security import hash_password, verify_password
from . import bp
from .devices import remember_device
from .forms import ChangePasswordForm, ResetForm, ResetRequestForm, SignInForm
from .mfa.flow import after_password
from .navigation import home, safe_next
from .reset import send_password_reset, user_for_token
from .signin import PasswordCheck, check_password, find_user
from .throttle import account_key, clear_account


def _wait_message(check: PasswordCheck) -> str:
    if check.waiting == "address":
        return (
            f"Too many failed sign-ins from your network's address ({request.remote_addr}). "
            f"Wait {check.wait_minutes} minutes and try again, or ask an administrator to "
            "lift the wait for this address."
        )
    return (
        f"Too many failed sign-ins to this account. Wait {check.wait_minutes} minutes and try "
        "again, or ask an administrator to lift the wait."
    )


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = SignInForm()
    if form.validate_on_submit():
        check = check_password(form.email.data, form.password.data, request.remote_addr)
        if check.wait:
            form.email.errors = [_wait_message(check)]
            return render_template("auth/sign_in.html", form=form, title="Sign in"), 429
        if check.user is None:
            form.email.errors = ["Enter a correct email address and password"]
            return render_template("auth/sign_in.html", form=form, title="Sign in"), 200
        # The second factor next (or signed in at once); a correct password makes this
        # browser known to the account, so others' failures never lock it out.
        response = after_password(check.user, request.args.get("next"))
        remember_device(response, account_key(check.user.email))
        return response
    return render_template("auth/sign_in.html", form=form, title="Sign in")


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        current_user.end_sessions()  # a copy of this session's cookie stops working too
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
            current_user.end_sessions()
            record("password changed")
            db.session.commit()
            login_user(current_user._get_current_object())  # this browser stays signed in
            flash("Your password has been changed.", "success")
            return redirect(home())
    return render_template("auth/change_password.html", form=form, title="Change your password")


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = find_user(form.email.data)
        if user is not None and user.active:
            record("password reset requested", user_id=user.id)
            # Sent by the job queue (which commits the audit entry): the answer comes as
            # fast for an address with an account as for one without.
            enqueue(send_password_reset, user.id)
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
    user = user_for_token(session.get("reset_token"))
    if user is None:
        session.pop("reset_token", None)
        return render_template("auth/reset_invalid.html", title="Reset link not valid"), 400
    form = ResetForm()
    if form.validate_on_submit():
        user.password_hash = hash_password(form.new_password.data)
        user.end_sessions()  # whoever had the old password is signed out everywhere
        record("password reset", user_id=user.id)
        db.session.commit()
        session.pop("reset_token", None)
        clear_account(account_key(user.email))
        flash("Your password has been set. Sign in with it now.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset.html", form=form, title="Choose a new password")
