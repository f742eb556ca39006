from __future__ import annotations

import secrets

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..audit import record
from ..auth.reset import reset_link
from ..auth.roles import role_required
from ..auth.throttle import account_key, clear_account, clear_address
from ..extensions import db
from ..links import BaseUrlNotSet
from ..mail import MailNotConfigured, send
from ..models import AuditEntry, Role, User
from ..security import hash_password
from . import bp
from .forms import ActionForm, AddressWaitForm, UserForm

AUDIT_PAGE = 50


def _other_active_admins(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        )
        or 0
    )


@bp.get("/users")
@role_required(Role.ADMIN)
def users():
    everyone = db.session.scalars(select(User).order_by(User.name)).all()
    return render_template(
        "admin/users.html",
        title="Users",
        users=everyone,
        action=ActionForm(),
        address_form=AddressWaitForm(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        if db.session.scalar(select(User).where(func.lower(User.email) == email.lower())):
            form.email.errors = ["There is already a user with this email address"]
        else:
            user = User(
                email=email,
                name=form.name.data.strip(),
                role=Role(form.role.data),
                active=form.active.data,
                password_hash=hash_password(secrets.token_urlsafe(32)),
            )
            db.session.add(user)
            db.session.flush()
            record("user created", target=user.id, role=user.role.value)
            db.session.commit()
            _send_welcome(user)
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", title="Add a user", form=form)


def _send_welcome(user: User) -> None:
    try:
        link = reset_link(user)
    except BaseUrlNotSet as exc:
        flash(
            f"{user.name} has been added, but no link to choose a password can be made: {exc}",
            "info",
        )
        return
    body = (
        f"An account has been created for you on Improvement Pulse ({current_app.config['COUNCIL_NAME']}).\n\n"
        f"Choose your password within one hour with this link:\n{link}\n"
    )
    try:
        send([(user.email, "Your Improvement Pulse account", body)])
        flash(f"{user.name} has been added and emailed a link to choose a password.", "success")
    except (MailNotConfigured, OSError):
        flash(
            f"{user.name} has been added, but email could not be sent. Give them this link to choose "
            f"a password (it works once, for one hour): {link}",
            "info",
        )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user, role=user.role.value) if request.method == "GET" else UserForm()
    if form.validate_on_submit():
        demoting = user.role == Role.ADMIN and (
            form.role.data != Role.ADMIN.value or not form.active.data
        )
        clash = db.session.scalar(
            select(User).where(
                func.lower(User.email) == form.email.data.strip().lower(), User.id != user.id
            )
        )
        if clash:
            form.email.errors = ["There is already a user with this email address"]
        elif demoting and _other_active_admins(user) == 0:
            form.role.errors = ["The service needs at least one active administrator"]
        else:
            before = {"role": user.role.value, "active": user.active, "email": user.email}
            user.email, user.name = form.email.data.strip(), form.name.data.strip()
            user.role, user.active = Role(form.role.data), form.active.data
            if (user.role.value, user.active) != (before["role"], before["active"]):
                user.end_sessions()  # a session never outlives the access it was granted with
            record(
                "user changed",
                target=user.id,
                before=before,
                after={"role": user.role.value, "active": user.active, "email": user.email},
            )
            db.session.commit()
            flash(f"{user.name} has been updated.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", title=f"Edit {user.name}", form=form, user=user, action=ActionForm()
    )


@bp.post("/users/<int:user_id>/lift-wait")
@role_required(Role.ADMIN)
def lift_wait(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    clear_account(account_key(user.email))
    record("sign-in wait lifted", target=user.id)
    db.session.commit()
    flash(f"{user.name} can sign in again now.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/sign-in-waits/address")
@role_required(Role.ADMIN)
def lift_address_wait():
    form = AddressWaitForm()
    if not form.validate_on_submit():
        everyone = db.session.scalars(select(User).order_by(User.name)).all()
        return render_template(
            "admin/users.html",
            title="Users",
            users=everyone,
            action=ActionForm(),
            address_form=form,
        ), 400
    address = form.normalised_address()
    clear_address(address)
    record("sign-in wait lifted for an address", address=address)
    db.session.commit()
    flash(f"Browsers at {address} can try to sign in again now.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/sign-out-everywhere")
@role_required(Role.ADMIN)
def sign_out_everywhere(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    user.end_sessions()
    record("signed out everywhere", target=user.id)
    db.session.commit()
    if user.id == current_user.id:
        return redirect(url_for("auth.sign_in"))
    flash(f"{user.name} has been signed out on every device.", "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    entries = db.paginate(
        select(AuditEntry).order_by(AuditEntry.id.desc()),
        page=page,
        per_page=AUDIT_PAGE,
        error_out=False,
    )
    names = {u.id: u.name for u in db.session.scalars(select(User))}
    return render_template(
        "admin/audit.html", title="Audit log", entries=entries, names=names, me=current_user
    )
