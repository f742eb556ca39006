"""Staff sign-in: sessions, roles, throttling of failed attempts, the second factor, password
change and reset."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from . import routes  # noqa: F401
from .mfa import routes as mfa_routes  # noqa: F401
