"""Staff sign-in: sessions, roles, throttling of failed attempts, password change and reset."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from . import routes  # noqa: F401
