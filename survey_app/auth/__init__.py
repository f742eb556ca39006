"""Staff sign-in: sessions, roles, throttling of failed attempts, the second factor, password
change and reset."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from . import routes  # noqa: E402, F401  (after bp: routes register themselves on it)
from .mfa import routes as mfa_routes  # noqa: E402, F401
