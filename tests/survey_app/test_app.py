"""App factory, configuration, public pages and security headers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from survey_app import ConfigError, create_app
from survey_app.config import Config


def test_secret_key_is_read_from_env_or_the_instance_file(monkeypatch, tmp_path) -> None:
    from survey_app.config import resolve_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        resolve_secret_key(tmp_path)
    (tmp_path / "secret_key").write_text("from-the-file\n")
    assert resolve_secret_key(tmp_path) == "from-the-file"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert resolve_secret_key(tmp_path) == "from-the-environment"


def test_production_app_without_key_refuses_with_a_clear_message(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)

    class Production(Config):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'x.db'}"

    monkeypatch.setenv("PULSE_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Production)


def test_the_app_starts_without_the_libraries_only_some_pages_use(tmp_path) -> None:
    # Every process pays for what building the app imports (`flask results`, each gunicorn
    # worker): scikit-learn alone is about 2 s. The coding page's topics, the charts and the
    # reports import these when they run.
    heavy = ["sklearn", "matplotlib", "weasyprint", "pptx"]
    code = (
        "import json, sys\n"
        "from survey_app import create_app\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path / 'x.db'}'}})\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    started = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert json.loads(started.stdout.splitlines()[-1]) == []


def test_unknown_config_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="use one of production, development, testing"):
        create_app("staging")


def test_public_pages_render_with_security_headers(client) -> None:
    for path in ("/", "/privacy", "/accessibility"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert "Thurrock Council" in html and "Improvement Pulse" in html
        assert 'lang="en-GB"' in html
        # a council service: no crown, no GOV.UK logo, no Crown copyright
        assert "govuk-logo" not in html and "Crown copyright" not in html and "<svg" not in html
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        nonce = csp.split("'nonce-")[1].split("'")[0]
        assert f'nonce="{nonce}"' in html  # the only inline script carries the nonce
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
    home = client.get("/").get_data(as_text=True)
    assert "12 key outcomes" in home


def test_security_headers_on_responses_without_a_page(app) -> None:
    @app.get("/framed-elsewhere")
    def framed_elsewhere():  # a view that sets one of the headers itself keeps its value
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN"}

    client = app.test_client()
    redirect = client.get("/admin/users")  # not signed in: a redirect, no page, no inline script
    assert redirect.status_code in (302, 303)
    csp = redirect.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "nonce" not in csp and "frame-ancestors 'none'" in csp
    assert redirect.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert redirect.headers["X-Frame-Options"] == "DENY"
    own = client.get("/framed-elsewhere")
    assert own.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert own.headers["Referrer-Policy"] == "no-referrer"


def test_health_reports_database_state(client, app) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    broken = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent-folder/x.db"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
