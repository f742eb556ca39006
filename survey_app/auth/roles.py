"""Role checks for staff routes: admin (everything), analyst, viewer, and the safeguarding
reviewer (the flagged-comments queue only)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from ..extensions import login_manager
from ..models import Role

# What each role may do; admin may do everything.
ANALYST_ROLES = (Role.ADMIN, Role.ANALYST)
VIEWER_ROLES = (Role.ADMIN, Role.ANALYST, Role.VIEWER)
SAFEGUARDING_ROLES = (Role.ADMIN, Role.SAFEGUARDING)


def role_required(*roles: Role) -> Callable:
    """Anonymous visitors are sent to sign in; signed-in users without the role get 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]  # read by the route inventory test
        return wrapped

    return decorate
