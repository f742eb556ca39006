"""Second factor for staff sign-in: an authenticator app (TOTP, RFC 6238, via pyotp) and
single-use recovery codes.

Used by the sign-in steps (``survey_app.auth.mfa``), the admin's reset, the command line and
the demo. What is stored (``second_factor``, ``recovery_code``):

* the TOTP secret, sealed with AES-256-GCM under a key derived from ``SECRET_KEY``
  (``survey_app.crypto``) and bound to its row, so someone who can read the database cannot
  make codes;
* the last accepted time step, so a code is accepted at most once, even when two requests
  race (the step is claimed by one conditional ``UPDATE``);
* an argon2id hash of each recovery code, deleted when the code is used.

Codes are six digits for 30-second steps (the defaults every authenticator app uses). One
step either side of the server's clock is accepted, as RFC 6238 §5.2 allows for clock drift
and the time a person takes to type the code.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import time
from collections.abc import Iterable
from typing import cast

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import CursorResult, Executable, delete, or_, select, update

from .audit import record
from .config import ConfigError
from .crypto import SealBroken, derive_key, seal, unseal
from .extensions import db
from .models import RecoveryCode, Role, SecondFactor, User, random_id

DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: codes are read off paper. 10 characters of 31 carry about 49.5 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
_SEAL_PURPOSE = "second-factor-secret"

# Recovery codes are random, not chosen by people, so the hash need not be as slow as a
# password's (security.hash_password, about 0.1 s): a sign-in checks up to ten of them.
# argon2id with 8 MiB and one pass still makes each guess cost a memory-hard hash.
_recovery_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class SecondFactorUnreadable(RuntimeError):
    """The stored secret does not open with ``SECRET_KEY`` (or its fallbacks): the key was
    changed. The user signs in with a recovery code, or an admin resets their factor."""


class CodeCheck(enum.Enum):
    """The outcome of checking an authenticator code."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    REUSED = "reused"  # right for its time step, but that step was already used


# --------------------------------------------------------------------------- who needs one


def parse_required_roles(value: str | Iterable[str]) -> frozenset[Role]:
    """``MFA_REQUIRED_ROLES`` ("admin,analyst", a list, or "" for none) as roles.

    Raises
    ------
    ConfigError
        If a name is not a role, naming it and the roles there are.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [name.strip().lower() for name in names if name.strip()]
    known = {role.value for role in Role}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"MFA_REQUIRED_ROLES names {', '.join(unknown)}, which is not a role; "
            f"use a comma-separated list of {', '.join(sorted(known))}, or leave it empty"
        )
    return frozenset(Role(name) for name in names)


def required_roles() -> frozenset[Role]:
    """The roles that must sign in with a second factor, from the app's configuration."""
    cache = current_app.extensions.setdefault("pulse_mfa_required_roles", {})
    configured = current_app.config.get("MFA_REQUIRED_ROLES", "")
    key = configured if isinstance(configured, str) else tuple(configured)
    if key not in cache:
        cache.clear()
        cache[key] = parse_required_roles(configured)
    return cache[key]


def is_required(user: User) -> bool:
    return user.role in required_roles()


# --------------------------------------------------------------------------- setting one up


def new_secret() -> str:
    """A random 160-bit TOTP secret in base32 (RFC 4226 §4 recommends 160 bits)."""
    return pyotp.random_base32(32)


def setup_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    issuer = f"{current_app.config['SERVICE_NAME']} ({current_app.config['COUNCIL_NAME']})"
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI, for an ``<img>`` (the CSP allows
    ``data:`` images; an inline script or style would not be)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def enrol(user: User, secret: str, code: str, now: float | None = None) -> list[str] | None:
    """Switch on the second factor for ``user`` once ``code`` proves their app holds ``secret``.

    Replaces any factor they had (and its recovery codes), audits it and commits. Returns the
    new recovery codes, in clear for showing once, or None if the code is not right.
    """
    step = matching_step(secret, code, now)
    if step is None:
        return None
    codes = install(user, secret, last_step=step)
    record("second factor set up", user_id=user.id, target=user.id)
    db.session.commit()
    return codes


def install(
    user: User, secret: str, last_step: int | None = None, recovery_codes: int = RECOVERY_CODE_COUNT
) -> list[str]:
    """Store ``secret`` as the user's factor with a fresh enrolment id and new recovery codes
    (in the current transaction; the caller commits). Returns the codes in clear."""
    db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    factor = SecondFactor(
        user_id=user.id,
        enrolment=random_id(),
        last_step=last_step,
        secret_sealed=seal(
            _seal_key(current_app.config["SECRET_KEY"]), secret.encode("ascii"), _bound_to(user.id)
        ),
    )
    codes = [new_recovery_code() for _ in range(recovery_codes)]
    factor.recovery_codes = [
        RecoveryCode(code_hash=_recovery_hasher.hash(normal_recovery_code(c))) for c in codes
    ]
    db.session.add(factor)
    db.session.flush()
    return codes


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    half = RECOVERY_CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


# --------------------------------------------------------------------------- checking codes


def factor_of(user_id: int) -> SecondFactor | None:
    return db.session.get(SecondFactor, user_id)


def secret_of(factor: SecondFactor) -> str:
    """The factor's TOTP secret, opened with ``SECRET_KEY`` or one of its fallbacks.

    Raises
    ------
    SecondFactorUnreadable
        If no configured key opens it.
    """
    keys = [
        current_app.config["SECRET_KEY"],
        *(current_app.config.get("SECRET_KEY_FALLBACKS") or ()),
    ]
    for key in keys:
        try:
            return unseal(_seal_key(key), factor.secret_sealed, _bound_to(factor.user_id)).decode(
                "ascii"
            )
        except SealBroken:
            continue
    raise SecondFactorUnreadable(
        f"the second factor of user {factor.user_id} does not open with SECRET_KEY"
    )


def normal_code(code: str) -> str:
    """A typed authenticator code without the spaces and dashes people add."""
    return "".join(ch for ch in code if ch not in " -\u00a0\t")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (RFC 6238 ``T``) within :data:`DRIFT_STEPS` of ``now`` whose code is
    ``code``, or None. Compared in constant time."""
    code = normal_code(code)
    totp = pyotp.TOTP(secret)
    if len(code) != totp.digits or not code.isdigit():
        return None
    current = totp.timecode(time.time() if now is None else now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_code(factor: SecondFactor, code: str, now: float | None = None) -> CodeCheck:
    """Accept ``code`` if it is right and its time step is later than any accepted before;
    the step is claimed by one conditional ``UPDATE``, so of two racing requests with the
    same code only one is accepted. Commits."""
    step = matching_step(secret_of(factor), code, now)
    if step is None:
        return CodeCheck.WRONG
    claimed = _rows_changed(
        update(SecondFactor)
        .where(
            SecondFactor.user_id == factor.user_id,
            SecondFactor.enrolment == factor.enrolment,
            or_(SecondFactor.last_step.is_(None), SecondFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return CodeCheck.ACCEPTED if claimed == 1 else CodeCheck.REUSED


def current_code(factor: SecondFactor, now: float | None = None) -> str:
    """The code the user's app shows now (for the demo's command line only)."""
    return pyotp.TOTP(secret_of(factor)).at(time.time() if now is None else now)


def normal_recovery_code(code: str) -> str:
    return normal_code(code).lower()


def use_recovery_code(factor: SecondFactor, code: str) -> bool:
    """Accept one of the factor's unused recovery codes and delete it, audited; False if
    ``code`` is none of them. The delete must remove the row, so a code racing itself is
    accepted once. Commits."""
    typed = normal_recovery_code(code)
    if len(typed) != RECOVERY_CODE_LENGTH or set(typed) - set(RECOVERY_ALPHABET):
        return False
    stored = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == factor.user_id)
    ).all()
    for candidate in stored:
        try:
            _recovery_hasher.verify(candidate.code_hash, typed)
        except (VerificationError, InvalidHashError):
            continue
        deleted = _rows_changed(
            delete(RecoveryCode)
            .where(RecoveryCode.id == candidate.id)
            .execution_options(synchronize_session=False)
        )
        if deleted != 1:
            db.session.rollback()
            return False
        record("recovery code used", user_id=factor.user_id, remaining=len(stored) - 1)
        db.session.commit()
        return True
    return False


def recovery_codes_left(factor: SecondFactor) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == factor.user_id)
        ).all()
    )


# --------------------------------------------------------------------------- reset


def reset(user: User, via: str = "admin") -> bool:
    """Remove the user's second factor and recovery codes, audited (``target`` is the user),
    and commit. Their remembered browsers stop counting at once (the enrolment they were
    bound to is gone); those in a required role set a new one up at their next request.
    Returns False if they had none (nothing is recorded)."""
    removed = _rows_changed(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    if not removed:
        db.session.rollback()
        return False
    record("second factor reset", target=user.id, via=via)
    db.session.commit()
    return True


def _rows_changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE in the current transaction; how many rows it changed."""
    return cast(CursorResult, db.session.execute(statement)).rowcount


def _seal_key(secret_key: str | bytes) -> bytes:
    return derive_key(secret_key, _SEAL_PURPOSE)


def _bound_to(user_id: int) -> bytes:
    # Associated data: a sealed secret copied onto another user's row does not open there.
    return f"user:{user_id}".encode("ascii")
