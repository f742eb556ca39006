"""Where staff go after signing in, and which ``next`` addresses are safe to send them to."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for
from flask_login import current_user

from ..models import Role


def home() -> str:
    """Where a signed-in user starts: the safeguarding reviewer's work is the flagged-comments
    queue (they see nothing else); viewers, analysts and admins start at the scorecard, the
    answer to "is the plan working?" (issue 17 section 2)."""
    if getattr(current_user, "role", None) is Role.SAFEGUARDING:
        return url_for("comments.flags")
    return url_for("dashboard.index")


def safe_next(target: str | None) -> str:
    """Only same-site paths: never a full URL, scheme-relative URL or backslash trick."""
    if not target:
        return home()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return home()
    return target
