"""Free-text comments: the safeguarding queue, manual coding with agreement between coders,
and the quotable comments that reports and the dashboard may show."""

from flask import Blueprint

bp = Blueprint("comments", __name__, url_prefix="/comments")

from . import routes  # noqa: E402,F401
