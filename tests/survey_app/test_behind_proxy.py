"""Behind a reverse proxy, through real gunicorn (``gunicorn.conf.py``, one worker, memory
counters) with ``TRUSTED_PROXIES=1`` and the proxy at 127.0.0.1 (``FORWARDED_ALLOW_IPS``).

The test plays the proxy: its requests from 127.0.0.1 carry the ``X-Forwarded-For`` a proxy
appends. Requests from 127.0.0.2 stand for a client that reaches gunicorn without going
through the proxy: whatever forwarded headers it sends are its own inventions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from survey_app.models import Role

from ..conftest import make_app
from .helpers import PASSWORD, add_user

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loadgen

pytestmark = pytest.mark.slow

ANALYST, COLLEAGUE = "analyst@council.example", "colleague@council.example"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("proxy")
    url = f"sqlite:///{folder / 'pulse.db'}"
    app = make_app(url)
    from flask_migrate import upgrade

    from survey_app.extensions import db

    with app.app_context():
        upgrade()
        db.engine.dispose()
    add_user(app, ANALYST, Role.ANALYST)
    add_user(app, COLLEAGUE, Role.VIEWER)
    process, base = loadgen.start_gunicorn(
        url,
        workers=1,
        threads=2,
        log=folder / "gunicorn.log",
        TRUSTED_PROXIES="1",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        RATELIMIT_STORAGE_URI="memory://",
        BASE_URL="https://pulse.example",
        PULSE_INSTANCE_PATH=str(folder / "instance"),
    )
    try:
        yield base
    finally:
        loadgen.stop_gunicorn(process)


class _FromAddress(HTTPAdapter):
    """Connections from another loopback address: a peer that is not the proxy."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def browser(forwarded_for: str | None = None, peer: str | None = None) -> requests.Session:
    """A browser whose requests reach gunicorn through the proxy (``forwarded_for`` is what
    the proxy appends) or, with ``peer``, directly from that address."""
    http = requests.Session()
    if forwarded_for:
        http.headers["X-Forwarded-For"] = forwarded_for
    if peer:
        http.mount("http://", _FromAddress(peer))
    return http


def sign_in(http: requests.Session, base: str, email: str, password: str = PASSWORD) -> int:
    page = http.get(f"{base}/auth/sign-in", timeout=30)
    token = _CSRF.search(page.text).group(1)
    return http.post(
        f"{base}/auth/sign-in",
        data={"csrf_token": token, "email": email, "password": password},
        allow_redirects=False,
        timeout=60,
    ).status_code


def sign_out(http: requests.Session, base: str) -> None:
    token = _CSRF.search(http.get(f"{base}/staff/", timeout=30).text).group(1)
    assert (
        http.post(
            f"{base}/auth/sign-out", data={"csrf_token": token}, allow_redirects=False, timeout=30
        ).status_code
        == 302
    )


def test_six_wrong_passwords_from_one_address_stop_no_other_account(server) -> None:
    own_browser = browser("198.51.100.30")
    assert sign_in(own_browser, server, ANALYST) == 302  # the analyst's browser, from home
    sign_out(own_browser, server)
    attacker = browser("198.51.100.10")
    outcomes = [sign_in(attacker, server, ANALYST, "wrong password") for _ in range(6)]
    assert outcomes == [200] * 5 + [429]  # the sixth waits: the account is held
    assert sign_in(browser("198.51.100.20"), server, COLLEAGUE) == 302  # another address
    assert sign_in(browser("198.51.100.10"), server, COLLEAGUE) == 302  # the same address
    assert sign_in(browser("198.51.100.40"), server, ANALYST) == 429  # an unknown browser waits
    assert sign_in(own_browser, server, ANALYST) == 302  # the one that signed in before does not


def _reset(http: requests.Session, base: str) -> int:
    """A password-reset request (10 per hour per address, counted by client address)."""
    token = _CSRF.search(http.get(f"{base}/auth/reset", timeout=30).text).group(1)
    return http.post(
        f"{base}/auth/reset",
        data={"csrf_token": token, "email": "nobody@council.example"},
        timeout=30,
    ).status_code


def test_two_clients_behind_the_proxy_are_counted_apart_and_forged_hops_are_ignored(server) -> None:
    first, second = browser("192.0.2.1"), browser("192.0.2.2")
    assert [_reset(first, server) for _ in range(10)] == [200] * 10
    assert _reset(first, server) == 429
    assert _reset(second, server) == 200  # counted apart
    # The first client claims to be the second: the proxy appends the address it really
    # came from, and only that last hop is believed.
    assert _reset(browser("192.0.2.2, 192.0.2.1"), server) == 429
    # A peer that is not the proxy claims a fresh address every time: all ten count
    # against its own address.
    direct = browser(peer="127.0.0.2")
    for number in range(10):
        direct.headers["X-Forwarded-For"] = f"203.0.113.{number + 1}"
        assert _reset(direct, server) == 200
    direct.headers["X-Forwarded-For"] = "203.0.113.99"
    assert _reset(direct, server) == 429


def test_the_proxys_https_is_believed_and_a_direct_peers_is_not(server) -> None:
    through_proxy = browser("192.0.2.50")
    through_proxy.headers["X-Forwarded-Proto"] = "https"
    secure = through_proxy.get(f"{server}/auth/sign-in", timeout=30)
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    direct = browser("192.0.2.51", peer="127.0.0.2")
    direct.headers["X-Forwarded-Proto"] = "https"
    assert (
        "Strict-Transport-Security" not in direct.get(f"{server}/auth/sign-in", timeout=30).headers
    )


@pytest.mark.parametrize("hops, expected", [(None, "[]"), ("1", "['127.0.0.1', '::1']")])
def test_gunicorn_believes_forwarded_headers_from_the_same_peers_as_the_app(
    hops, expected, tmp_path
) -> None:
    """gunicorn's ``forwarded_allow_ips`` follows ``TRUSTED_PROXIES``: nobody without proxies,
    the ``FORWARDED_ALLOW_IPS`` the app also reads with them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS")
    }
    env.update(
        SECRET_KEY="s" * 40,
        PULSE_INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'g.db'}",
    )
    if hops:
        env["TRUSTED_PROXIES"] = hops
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(loadgen.REPO / "gunicorn.conf.py"),
            "--print-config",
        ],
        env=env,
        cwd=loadgen.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert re.search(r"^forwarded_allow_ips\s+= (.*)$", printed, re.MULTILINE).group(1) == expected
