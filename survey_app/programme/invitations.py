"""Invitation lists: validating an uploaded CSV, personal links, sending, purging contacts.

A personal link's token is derived from the app's secret key and the invitation's id, and
only its SHA-256 is stored: someone who reads the database cannot build a link, while the
service can send the same link again in a reminder or a mail-merge file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import CursorResult, func, select, update

from ..audit import record
from ..extensions import db
from ..imports import Importer, ImportRefused, register_importer
from ..ingestion import invite_tag, tagged
from ..links import public_url
from ..models import Invitation, Wave
from ..security import hash_token
from ..uploads import CsvUploadError, read_csv_upload

MAX_ROWS = 100_000


@dataclass(frozen=True)
class Contact:
    email: str
    name: str | None


class InvitationFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_contacts(data: bytes, existing: set[str]) -> list[Contact]:
    """Validate an uploaded CSV (columns ``email`` and optional ``name``) row by row.

    Raises :class:`InvitationFileError` listing every problem with its row number; nothing is
    stored unless the whole file is valid. ``existing`` holds addresses already invited."""
    try:
        upload = read_csv_upload(data, MAX_ROWS, lower_headers=True)
    except CsvUploadError as exc:
        raise InvitationFileError([exc.problem]) from None
    if "email" not in upload.headers:
        raise InvitationFileError(
            ["The first row must be column names, including 'email' (and optionally 'name')"]
        )
    problems: list[str] = []
    contacts: list[Contact] = []
    seen: dict[str, int] = {}
    for row_number, row in upload.rows:
        raw = (row.get("email") or "").strip()
        name = (row.get("name") or "").strip() or None
        if not raw:
            problems.append(f"Row {row_number}: the email address is missing")
            continue
        try:
            email = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problems.append(f"Row {row_number}: '{raw}' is not a valid email address ({exc})")
            continue
        key = email.lower()
        if key in seen:
            problems.append(f"Row {row_number}: {email} is a duplicate of row {seen[key]}")
            continue
        if key in existing:
            problems.append(f"Row {row_number}: {email} has already been invited to this wave")
            continue
        if name and len(name) > 200:
            problems.append(f"Row {row_number}: the name is longer than 200 characters")
            continue
        seen[key] = row_number
        contacts.append(Contact(email, name))
    if problems:
        raise InvitationFileError(problems)
    if not contacts:
        raise InvitationFileError(["The file has no rows of contacts under the column names"])
    return contacts


def _check_contacts(existing: set[str], data: bytes) -> list[Contact]:
    try:
        return parse_contacts(data, existing)
    except InvitationFileError as exc:
        raise ImportRefused(exc.problems) from None


def _store_contacts(wave: Wave, contacts: list[Contact], user_id: int | None) -> int:
    """Add the checked invitations (the caller commits). An address invited while the file
    was being checked would be a duplicate: the whole file is refused then."""
    again = sorted({c.email for c in contacts if c.email.lower() in existing_addresses(wave)})
    if again:
        raise ImportRefused([f"{email} has already been invited to this wave" for email in again])
    add_invitations(wave, contacts)
    record("invitations uploaded", user_id=user_id, wave=wave.id, count=len(contacts))
    return len(contacts)


def token_for(invitation: Invitation) -> str:
    key = hashlib.sha256(("invitation-token:" + current_app.config["SECRET_KEY"]).encode()).digest()
    digest = hmac.new(
        key, f"{invitation.wave_id}:{invitation.id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_for(invitation: Invitation) -> str:
    return public_url("survey.invite", token=token_for(invitation))


def add_invitations(wave: Wave, contacts: list[Contact]) -> list[Invitation]:
    """Store the invitations (the caller commits), each with the hash of its derived token."""
    invitations = [
        Invitation(
            wave_id=wave.id,
            email=c.email,
            name=c.name,
            token_hash="pending-" + secrets.token_hex(24),
        )
        for c in contacts
    ]
    db.session.add_all(invitations)
    db.session.flush()  # ids, from which the tokens are derived
    for invitation in invitations:
        invitation.token_hash = hash_token(token_for(invitation))
    return invitations


def existing_addresses(wave: Wave) -> set[str]:
    return {
        e.lower()
        for e in db.session.scalars(
            select(Invitation.email).where(
                Invitation.wave_id == wave.id, Invitation.email.is_not(None)
            )
        )
        if e is not None
    }


def unused_with_contact(wave: Wave) -> list[Invitation]:
    """Invitations with contact details whose link has not been used: not marked used, and
    no submission held under the link's tag (an invitation is marked used only when its
    answers are released, so a held one would otherwise get a reminder)."""
    candidates = list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.wave_id == wave.id,
                Invitation.used.is_(False),
                Invitation.email.is_not(None),
            )
            .order_by(Invitation.id)
        )
    )
    tags = {invitation.id: invite_tag(token_for(invitation)) for invitation in candidates}
    sent = tagged(list(tags.values()))
    return [invitation for invitation in candidates if tags[invitation.id] not in sent]


def purge_contacts(wave: Wave) -> int:
    """Remove names and e-mail addresses, keeping the invitations (and so the counts)."""
    # an UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed as Result
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(Invitation)
            .where(Invitation.wave_id == wave.id, Invitation.email.is_not(None))
            .values(email=None, name=None)
        ),
    )
    return result.rowcount or 0


def counts(wave: Wave) -> tuple[int, int, int]:
    """Invited, used and still holding contact details."""
    invited, used, contactable = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(func.cast(Invitation.used, db.Integer)), 0),
            func.count(Invitation.email),
        ).where(Invitation.wave_id == wave.id)
    ).one()
    return int(invited), int(used), int(contactable)


def invitation_text(invitation: Invitation, title: str, wave: Wave, reminder: bool) -> str:
    """The e-mail with a personal link: the invitation, or a reminder (sent by hand from the
    wave page or on the wave's reminder days). A reminder thanks those who have answered
    already: answers are held before they are released, so someone who answered a few days
    ago can still be sent one, and nothing in it may suggest that we know who answered."""
    greeting = f"Dear {invitation.name}," if invitation.name else "Hello,"
    opening = (
        "This is a reminder: we would still like to hear from you. If you have answered "
        "already, thank you: your answers are counted and you can ignore this e-mail."
        if reminder
        else "We would like to hear what you think."
    )
    return (
        f"{greeting}\n\n{opening} Please answer the {title} by {wave.closes_on:%-d %B %Y}.\n\n"
        f"Your personal link (it works once and keeps your place if you stop part way):\n"
        f"{link_for(invitation)}\n\nYour answers are anonymous: they are never stored with your "
        "name, email address or this link.\n"
    )


register_importer(
    "invitations", Importer(read=existing_addresses, check=_check_contacts, store=_store_contacts)
)
