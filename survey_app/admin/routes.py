from __future__ import annotations

import secrets

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..audit import record
from ..auth.roles import role_required
from ..auth.routes import reset_token
from ..auth.throttle import clear_account
from ..extensions import db
from ..mail import MailNotConfigured, send
from ..models import AuditEntry, Role, User
from ..security import hash_password
from . import bp
from .forms import ActionForm, UserForm

AUDIT_PAGE = 50


def _other_active_admins(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)) or 0


@bp.get("/users")
@role_required(Role.ADMIN)
def users():
    everyone = db.session.scalars(select(User).order_by(User.name)).all()
    return render_template("admin/users.html", title="Users", users=everyone, action=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        if db.session.scalar(select(User).where(func.lower(User.email) == email.lower())):
            form.email.errors = ["There is already a user with this email address"]
        else:
            user = User(email=email, name=form.name.data.strip(), role=Role(form.role.data),
                        active=form.active.data, password_hash=hash_password(secrets.token_urlsafe(32)))
            db.session.add(user)
            db.session.flush()
            record("user created", target=user.id, role=user.role.value)
            db.session.commit()
            _send_welcome(user)
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", title="Add a user", form=form)


def _send_welcome(user: User) -> None:
    link = url_for("auth.reset_link", token=reset_token(user), _external=True)
    body = (f"An account has been created for you on Improvement Pulse ({current_app.config['COUNCIL_NAME']}).\n\n"
            f"Choose your password within one hour with this link:\n{link}\n")
    try:
        send([(user.email, "Your Improvement Pulse account", body)])
        flash(f"{user.name} has been added and emailed a link to choose a password.", "success")
    except (MailNotConfigured, OSError):
        flash(f"{user.name} has been added, but email could not be sent. Give them this link to choose "
              f"a password (it works once, for one hour): {link}", "info")


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user, role=user.role.value) if request.method == "GET" else UserForm()
    if form.validate_on_submit():
        demoting = user.role == Role.ADMIN and (form.role.data != Role.ADMIN.value or not form.active.data)
        clash = db.session.scalar(select(User).where(func.lower(User.email) == form.email.data.strip().lower(),
                                                     User.id != user.id))
        if clash:
            form.email.errors = ["There is already a user with this email address"]
        elif demoting and _other_active_admins(user) == 0:
            form.role.errors = ["The service needs at least one active administrator"]
        else:
            before = {"role": user.role.value, "active": user.active, "email": user.email}
            user.email, user.name = form.email.data.strip(), form.name.data.strip()
            user.role, user.active = Role(form.role.data), form.active.data
            record("user changed", target=user.id, before=before,
                   after={"role": user.role.value, "active": user.active, "email": user.email})
            db.session.commit()
            flash(f"{user.name} has been updated.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", title=f"Edit {user.name}", form=form, user=user,
                           action=ActionForm())


@bp.post("/users/<int:user_id>/lift-wait")
@role_required(Role.ADMIN)
def lift_wait(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    clear_account(user.email)
    record("sign-in wait lifted", target=user.id)
    db.session.commit()
    flash(f"{user.name} can sign in again now.", "success")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    entries = db.paginate(select(AuditEntry).order_by(AuditEntry.id.desc()), page=page,
                          per_page=AUDIT_PAGE, error_out=False)
    names = {u.id: u.name for u in db.session.scalars(select(User))}
    return render_template("admin/audit.html", title="Audit log", entries=entries, names=names,
                           me=current_user)
