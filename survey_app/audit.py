"""The audit log: who did what, when. Append-only from the app (no route edits or deletes)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from .extensions import db
from .models import AuditEntry


def record(action: str, user_id: int | None = None, **detail: Any) -> AuditEntry:
    """Add an audit entry to the current transaction (the caller commits with its change,
    so an action and its record are stored together or not at all)."""
    if user_id is None and getattr(current_user, "is_authenticated", False):
        user_id = current_user.id
    entry = AuditEntry(user_id=user_id, action=action, detail=detail)
    db.session.add(entry)
    return entry
