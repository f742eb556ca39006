"""Action plans: analysts and admins record what will be done about what a survey heard;
viewers read them; the public reads the published ones ("you said, we did")."""

from flask import Blueprint

bp = Blueprint("actions", __name__)

from . import routes  # noqa: E402, F401  (after bp: routes register themselves on it)
