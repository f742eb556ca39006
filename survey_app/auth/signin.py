"""Signing a member of staff in, in two steps a second factor can go between:

1. :func:`check_password` — the lockout rules of :mod:`.throttle` and the password;
2. :func:`.mfa.flow.after_password` — the second factor if the user has or needs one, then
   :func:`.mfa.flow.start_session`, a fresh session for the user, audited.

The sign-in view calls one after the other and then :func:`.devices.remember_device`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select

from ..audit import record
from ..extensions import db
from ..models import User
from ..security import hash_password, verify_password
from . import throttle
from .devices import known_device

# A real hash to verify against when the account does not exist, so that the time a failed
# sign-in takes does not tell an attacker whether the email address has an account.
_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


@dataclass(frozen=True)
class PasswordCheck:
    """What the password step found: ``user`` when the password is right; otherwise, when
    the attempt was refused unchecked, ``wait`` seconds and ``waiting`` (``"account"`` or
    ``"address"``); neither means a wrong address or password."""

    user: User | None = None
    wait: int = 0
    waiting: str | None = None

    @property
    def wait_minutes(self) -> int:
        return max(math.ceil(self.wait / 60), 1)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def check_password(email: str, password: str, address: str | None) -> PasswordCheck:
    """Check ``password`` for ``email`` from a browser at ``address``, unless the rules of
    :mod:`.throttle` make this attempt wait. A failure is counted (and audited, committed)
    against the browser's device cookie if it has one for the account, else against the
    account and the address."""
    account = throttle.account_key(email)
    device = known_device(account)
    if device is None:
        for waiting, wait in (
            ("address", throttle.address_wait(address)),
            ("account", throttle.account_wait(account)),
        ):
            if wait:
                return PasswordCheck(wait=wait, waiting=waiting)
    user = find_user(email)
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.active:
        if device is not None:
            throttle.record_device_failure(device)
        else:
            throttle.record_account_failure(account)
            throttle.record_address_failure(address)
        record("sign-in failed", user_id=user.id if user else None, account_exists=user is not None)
        db.session.commit()
        return PasswordCheck()
    if device is None:
        throttle.clear_account(account)  # the real user got in: their earlier slips are forgotten
    else:
        throttle.clear_device(device)
    return PasswordCheck(user=user)
