"""Start-up refusals (short SECRET_KEY, bad BASE_URL or proxy settings), links built from
BASE_URL and never from the request's host, HSTS and ``Cache-Control: no-store``."""

from __future__ import annotations

import io
import logging
import re
import secrets

import pytest
from flask_migrate import upgrade

from survey_app import ConfigError, create_app
from survey_app.config import Config, DevelopmentConfig
from survey_app.extensions import db
from survey_app.models import Role, WaveMode

from ..conftest import REPO, _app_with_schema, make_app
from .helpers import add_user, bodies, csrf, sign_in
from .survey_helpers import make_wave

LONG_KEY = "k" * 32


def production(tmp_path, **settings) -> type[Config]:
    return type(
        "Production",
        (Config,),
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", **settings},
    )


@pytest.mark.parametrize("key", ["a", "k" * 31, "é" * 15])
def test_a_secret_key_shorter_than_32_bytes_is_refused_at_start_up(
    tmp_path, monkeypatch, key
) -> None:
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("PULSE_INSTANCE_PATH", str(tmp_path / "instance"))
    size = len(key.encode())
    with pytest.raises(
        ConfigError, match=f"SECRET_KEY is {size} bytes long; it must be at least 32 bytes"
    ):
        create_app(production(tmp_path))


def test_a_32_byte_key_starts_and_a_short_old_key_is_refused_too(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PULSE_INSTANCE_PATH", str(tmp_path / "instance"))
    assert create_app(production(tmp_path, SECRET_KEY=LONG_KEY)).secret_key == LONG_KEY
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS entry is 3 bytes long"):
        create_app(production(tmp_path, SECRET_KEY=LONG_KEY, SECRET_KEY_FALLBACKS=["old"]))


def test_the_demo_generates_a_long_enough_key() -> None:
    script = (REPO / "scripts" / "run-demo.sh").read_text()
    generator = re.search(
        r"python -c 'import secrets; print\(secrets\.token_urlsafe\((\d+)\)\)'", script
    )
    assert generator is not None, "run-demo.sh no longer generates its key as expected"
    assert len(secrets.token_urlsafe(int(generator.group(1)))) >= 32


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"BASE_URL": "pulse.example.gov.uk"}, "must be the service's public address"),
        ({"BASE_URL": "https://pulse.example?x=1"}, "must not contain a query"),
        ({"TRUSTED_PROXIES": -1}, "TRUSTED_PROXIES=-1 must be 0 or a positive whole number"),
        (
            {"TRUSTED_PROXIES": 1, "FORWARDED_ALLOW_IPS": "proxy.local"},
            "'proxy.local' is not an IP address",
        ),
        ({"SIGN_IN_ADDRESS_LIMIT": "lots"}, "SIGN_IN_ADDRESS_LIMIT='lots' is not a rate"),
    ],
)
def test_bad_link_and_proxy_settings_are_refused_with_what_is_wrong(
    tmp_path, settings, message
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_app(f"sqlite:///{tmp_path / 'x.db'}", **settings)


def test_trusted_proxies_comes_from_the_environment_as_a_number(tmp_path, monkeypatch) -> None:
    from survey_app.config import _int

    monkeypatch.setenv("TRUSTED_PROXIES", "one")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES='one' is not a whole number"):
        _int("TRUSTED_PROXIES", 0)
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert _int("TRUSTED_PROXIES", 0) == 2


def test_a_reset_link_uses_base_url_whatever_host_the_request_names(tmp_path, smtp) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'r.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        BASE_URL="https://pulse.council.example/",
        TRUSTED_PROXIES=1,
    )
    with app.app_context():
        upgrade()
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    # believed, since the test client's 127.0.0.1 is the trusted proxy, and still not used
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    token = csrf(client, "/auth/reset")
    client.post(
        "/auth/reset",
        data={"csrf_token": token, "email": "analyst@council.example"},
        headers=forged,
    )
    body = bodies(mailbox)[0]
    assert "evil.example" not in body
    assert re.search(r"https://pulse\.council\.example/auth/reset/\S+", body)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def proxied_app(tmp_path):
    """The app behind one proxy at 127.0.0.1, the test client's own address."""
    yield from _app_with_schema(f"sqlite:///{tmp_path / 'p.db'}", TRUSTED_PROXIES=1)


EVIL_HOST = {"X-Forwarded-Host": "evil.example"}


def test_invitation_links_and_posters_use_base_url(proxied_app) -> None:
    app, client = proxied_app, proxied_app.test_client()
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    with app.app_context():
        invite = make_wave("member-pulse", WaveMode.INVITE, label="2027-Q1")
        event = make_wave("staff-roadshow", WaveMode.EVENT, label="2027-R1")
        invite_id, event_id = invite.id, event.id
    token = csrf(client, f"/programme/waves/{invite_id}")
    upload = client.post(
        f"/programme/waves/{invite_id}/invitations",
        content_type="multipart/form-data",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"email\nann@council.example\n"), "invitations.csv"),
        },
        headers=EVIL_HOST,
    )
    assert upload.status_code == 302
    merge = client.get(f"/programme/waves/{invite_id}/invitations.csv", headers=EVIL_HOST)
    assert re.fullmatch(
        r"ann@council\.example,http://pulse\.test/i/[\w-]+",
        merge.get_data(as_text=True).splitlines()[1].lstrip(","),
    )
    page = client.get(f"/programme/waves/{event_id}", headers=EVIL_HOST).get_data(as_text=True)
    assert "evil.example" not in page and "<code>http://pulse.test/e/" in page


def test_without_base_url_no_link_is_guessed_and_the_page_says_what_to_set(
    tmp_path, smtp, caplog
) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'n.db'}",
        BASE_URL=None,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
    )
    with app.app_context():
        upgrade()
        wave_id = make_wave("staff-roadshow", WaveMode.EVENT).id
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    sign_in(client, "analyst@council.example")
    page = client.get(f"/programme/waves/{wave_id}")
    assert page.status_code == 503 and "Set BASE_URL to its public address" in page.get_data(
        as_text=True
    )
    with caplog.at_level(logging.ERROR):
        sent = client.post(
            "/auth/reset",
            data={"csrf_token": csrf(client, "/auth/reset"), "email": "analyst@council.example"},
        )
    assert sent.status_code == 200 and "Check your email" in sent.get_data(as_text=True)
    assert mailbox.messages == [] and "BaseUrlNotSet" in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_hsts_on_https_only_and_staff_pages_are_never_stored(app, client) -> None:
    secure = client.get("/auth/sign-in", base_url="https://pulse.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/auth/sign-in").headers
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    for path in ("/staff/", "/auth/sign-in", "/staff/exports", "/admin/users"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    assert "no-store" not in client.get("/privacy").headers.get("Cache-Control", "")


def test_the_local_demo_sends_no_hsts(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PULSE_INSTANCE_PATH", str(tmp_path / "instance"))
    demo = type(
        "Demo",
        (DevelopmentConfig,),
        {"SECRET_KEY": LONG_KEY, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.db'}"},
    )
    app = create_app(demo)
    assert app.config["BASE_URL"] == "http://127.0.0.1:5000"
    response = app.test_client().get("/auth/sign-in", base_url="https://127.0.0.1:5000")
    assert "Strict-Transport-Security" not in response.headers


def test_forwarded_headers_count_only_from_the_configured_proxy(tmp_path) -> None:
    """In-process: with TRUSTED_PROXIES=1 a request from the proxy's address is the
    forwarded client; the same headers from anyone else change nothing."""
    app = make_app(
        f"sqlite:///{tmp_path / 'f.db'}", TRUSTED_PROXIES=1, FORWARDED_ALLOW_IPS="10.1.0.0/16"
    )

    @app.get("/_whoami")
    def whoami() -> str:
        from flask import request

        return f"{request.remote_addr} {request.scheme} {request.host}"

    client = app.test_client()
    headers = {
        "X-Forwarded-For": "6.6.6.6, 198.51.100.4",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "pulse.example",
    }
    via_proxy = client.get("/_whoami", headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert via_proxy.get_data(as_text=True) == "198.51.100.4 https pulse.example"
    direct = client.get("/_whoami", headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert direct.get_data(as_text=True) == "192.0.2.50 http localhost"


def test_reset_mail_goes_through_the_job_queue_and_the_answer_is_the_same_page(
    tmp_path, smtp
) -> None:
    """With the web process's worker thread (production's default without Redis) the reset
    page answers before the mail is sent, identically for a known and an unknown address."""
    import time

    from sqlalchemy import select

    from survey_app.models import Job

    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'j.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        JOBS_BACKEND="thread",
    )
    with app.app_context():
        upgrade()
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()

    def ask(email: str) -> str:
        response = client.post(
            "/auth/reset", data={"csrf_token": csrf(client, "/auth/reset"), "email": email}
        )
        assert response.status_code == 200
        return re.sub(r'nonce="[^"]+"', "", response.get_data(as_text=True))

    assert ask("nobody@council.example") == ask("analyst@council.example")
    deadline = time.monotonic() + 60
    while not mailbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m.rcpt_tos for m in mailbox.messages] == [["analyst@council.example"]]
    assert "http://pulse.test/auth/reset/" in bodies(mailbox)[0]
    with app.app_context():
        jobs = db.session.scalars(select(Job)).all()
        assert [job.function for job in jobs] == ["survey_app.auth.reset:send_password_reset"]
        db.engine.dispose()


def test_a_qr_poster_from_the_cli_points_at_base_url(app, runner, tmp_path) -> None:
    with app.app_context():
        code = make_wave("staff-roadshow", WaveMode.EVENT).events[0].code
    out = tmp_path / "poster.svg"
    made = runner.invoke(args=["survey", "qr", code, "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert f"http://pulse.test/e/{code}" in made.output
    app.config["BASE_URL"] = None
    refused = runner.invoke(args=["survey", "qr", code, "--out", str(out)])
    assert refused.exit_code == 2 and "give --base-url or set BASE_URL" in refused.output
