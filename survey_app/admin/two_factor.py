"""An admin resets a user's second factor (lost or replaced phone), on a confirmation page
that says what will happen. Audited as "second factor reset"."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from .. import two_factor
from ..auth.mfa.forms import ResetForm
from ..auth.roles import role_required
from ..extensions import db
from ..models import Role, User
from . import bp


@bp.route("/users/<int:user_id>/two-factor", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def two_factor_reset(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    factor = two_factor.factor_of(user.id)
    form = ResetForm()
    if factor is not None and form.validate_on_submit():
        two_factor.reset(user, via="admin")
        required = two_factor.is_required(user)
        flash(
            f"Two-factor sign-in for {user.name} has been reset. "
            + (
                "They will set it up again when they next sign in."
                if required
                else "They can sign in with their password alone until they set it up again."
            ),
            "success",
        )
        return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template(
        "admin/two_factor.html",
        title=f"Two-factor sign-in for {user.name}",
        user=user,
        factor=factor,
        form=form,
        required=two_factor.is_required(user),
        codes_left=two_factor.recovery_codes_left(factor) if factor else 0,
    )
