"""Password hashing (argon2id via argon2-cffi) and token hashing."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A one-time invitation token for a personal link (never stored in clear)."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Tokens are long and random, so an unsalted SHA-256 is enough to make the stored
    value useless for building a link, while allowing look-up by hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
