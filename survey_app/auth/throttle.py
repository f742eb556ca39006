"""Slowing down password guessing without letting a guesser lock the office out.

The rule (the README's "Signing in" states it for staff):

* **Per account, for browsers it does not know.** Five failed sign-ins to one account
  within 15 minutes of the first make that account wait 15 minutes; each further run of
  five failures doubles the wait (30 minutes, 1 hour, ...), up to :data:`MAX_WAIT`. The
  doubling is forgotten 24 hours after the first wait, after a successful sign-in from a
  browser it does not know, or when an admin lifts the wait. While an account waits, its
  password is not even checked.
* **Browsers that have signed in to the account before** carry a device cookie for it
  (:mod:`.devices`, after OWASP's "Slow Down Online Guessing Attacks with Device
  Cookies") and are not held by the account's wait: someone else's failures cannot lock
  the real user out. Each such browser has a limit of its own, five failures in 15
  minutes, after which it is treated like any unknown browser.
* **Per address**, a limit high enough for a council office behind one address: 100
  failures from one address within 15 minutes (``SIGN_IN_ADDRESS_LIMIT``) make unknown
  browsers at that address wait until the oldest of them is 15 minutes old.

Every counter lives in the rate-limit storage (memory for one process, Redis for several
workers), keyed by an HMAC of the e-mail address, so neither the database nor the
counter store records who tried to sign in as whom; nothing locks for good. An admin can
lift an account's wait and an address's wait early.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time

from flask import current_app
from limits import RateLimitItem

from ..ratelimit import limit, moving_window, storage

ACCOUNT_FAILURES = 5
ACCOUNT_FAILURE_WINDOW = 15 * 60
FIRST_WAIT = 15 * 60
MAX_WAIT = 8 * 60 * 60
LEVEL_MEMORY = 24 * 60 * 60
DEVICE_FAILURES = "5 per 15 minutes"
_NAMESPACE = "sign-in"


def account_key(email: str) -> str:
    """The account's name in the counters: an HMAC of the normalised address, so a reader of
    the counter store cannot test guesses of staff e-mail addresses against it."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode("utf-8") if isinstance(key, str) else key
    message = ("sign-in-account:" + email.strip().lower()).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _account(kind: str, account: str) -> str:
    return f"{_NAMESPACE}/account/{kind}/{account}"


def _address_limit() -> RateLimitItem:
    return limit(current_app.config["SIGN_IN_ADDRESS_LIMIT"])


def _seconds_until(moment: float) -> int:
    return max(math.ceil(moment - time.time()), 0)


# --------------------------------------------------------------------------- accounts


def account_wait(account: str) -> int:
    """Seconds the account still waits (0: it may try)."""
    lock = _account("locked", account)
    if not storage().get(lock):
        return 0
    return max(_seconds_until(storage().get_expiry(lock)), 1)


def record_account_failure(account: str) -> int:
    """Count a failure from an unknown browser; returns the wait it started (0 if none).

    The fifth failure of a run starts a wait of ``FIRST_WAIT * 2 ** (n - 1)`` seconds for
    the ``n``-th wait in 24 hours, capped at :data:`MAX_WAIT`. The counter's own ``incr``
    is atomic, so of two workers seeing failures at once exactly one starts the wait."""
    counters = storage()
    failures = counters.incr(_account("failures", account), ACCOUNT_FAILURE_WINDOW)
    if failures != ACCOUNT_FAILURES:
        return 0
    counters.clear(_account("failures", account))
    level = counters.incr(_account("level", account), LEVEL_MEMORY)
    wait = min(FIRST_WAIT * 2 ** (level - 1), MAX_WAIT)
    counters.clear(_account("locked", account))
    counters.incr(_account("locked", account), wait)
    return wait


def clear_account(account: str) -> None:
    """Lift the account's wait and forget its failures and doubling (an admin's action, or
    a successful sign-in from a browser the account did not know)."""
    counters = storage()
    for kind in ("locked", "failures", "level"):
        counters.clear(_account(kind, account))


# --------------------------------------------------------------------------- devices


def device_locked(device: str) -> bool:
    """Whether a known browser has used up its own failures (it then counts as unknown)."""
    return not moving_window().test(limit(DEVICE_FAILURES), _NAMESPACE, "device", device)


def record_device_failure(device: str) -> None:
    moving_window().hit(limit(DEVICE_FAILURES), _NAMESPACE, "device", device)


def clear_device(device: str) -> None:
    moving_window().clear(limit(DEVICE_FAILURES), _NAMESPACE, "device", device)


# --------------------------------------------------------------------------- addresses


def _address(address: str | None) -> str:
    """One spelling per address, so an admin's typed address matches the counted one."""
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return address or "unknown"


def address_wait(address: str | None) -> int:
    """Seconds unknown browsers at ``address`` still wait (0: they may try)."""
    item, window = _address_limit(), moving_window()
    if window.test(item, _NAMESPACE, "address", _address(address)):
        return 0
    stats = window.get_window_stats(item, _NAMESPACE, "address", _address(address))
    return max(_seconds_until(stats.reset_time), 1)


def record_address_failure(address: str | None) -> None:
    moving_window().hit(_address_limit(), _NAMESPACE, "address", _address(address))


def clear_address(address: str) -> None:
    """Lift an address's wait (an admin's action)."""
    moving_window().clear(_address_limit(), _NAMESPACE, "address", _address(address))
