"""Administration: users and roles, lifting sign-in waits, the instrument library, the audit
log. Admins only."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import instruments, retention, routes, two_factor  # noqa: E402, F401  (after bp: routes register themselves on it)
