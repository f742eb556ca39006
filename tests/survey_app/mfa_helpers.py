"""Driving the second step of sign-in through HTTP, as a person with an authenticator app would."""

from __future__ import annotations

import re
import time

import pyotp

from .helpers import csrf


def code_for(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app holding ``secret`` shows now (or ``steps_ahead`` 30-second
    steps later: the service accepts one step of clock drift)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def set_up(client) -> tuple[str, list[str]]:
    """On the set-up page (after the password step, or signed in): read the key shown for
    manual entry, confirm it with a code, and return it with the recovery codes shown."""
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    secret = re.search(r'id="setup-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    shown = client.post(
        "/auth/two-factor/set-up", data={"csrf_token": token, "code": code_for(secret)}
    )
    assert shown.status_code == 200, shown.get_data(as_text=True)
    codes = re.findall(r"<code[^>]*>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.get_data(as_text=True))
    return secret, codes


def enter_code(client, code: str, remember: bool = False):
    data = {"csrf_token": csrf(client, "/auth/code"), "code": code}
    if remember:
        data["remember"] = "y"
    return client.post("/auth/code", data=data)


def enter_recovery_code(client, code: str):
    return client.post(
        "/auth/recovery-code",
        data={"csrf_token": csrf(client, "/auth/recovery-code"), "code": code},
    )
