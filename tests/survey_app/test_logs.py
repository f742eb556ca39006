"""Logs say nothing that varies with the answers: no response size and no duration in
gunicorn's access log, no duration in the app's request log for respondents' pages."""

from __future__ import annotations

import datetime as dt
import json
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

from gunicorn.glogging import SafeAtoms

from .survey_helpers import answer_pages, full_answers, make_wave, send

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def _access_line(config: dict, body: bytes, headers: list[tuple[str, str]]) -> str:
    logger = config["SafeAccessLogger"].__new__(config["SafeAccessLogger"])
    logger.now = lambda: "[01/Dec/2026:10:00:00 +0000]"
    response = SimpleNamespace(
        status="200 OK", sent=len(body), headers=[("Content-Length", str(len(body))), *headers]
    )
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/s/abc/check", "SERVER_PROTOCOL": "HTTP/1.1"}
    atoms = logger.atoms(response, None, environ, dt.timedelta(seconds=1, microseconds=234_567))
    return config["access_log_format"] % SafeAtoms(atoms)  # as gunicorn formats them


def test_access_log_lines_do_not_vary_with_what_the_page_shows() -> None:
    config = runpy.run_path(str(CONF))
    short = _access_line(config, b"x" * 3_000, [("X-Request-ID", "r1"), ("Set-Cookie", "s=1")])
    long = _access_line(
        config, b"x" * 9_000, [("X-Request-ID", "r1"), ("Set-Cookie", "s=" + "2" * 900)]
    )
    assert short == long == '[01/Dec/2026:10:00:00 +0000] "GET /s/abc/check" 200 rid=r1'
    # no format can reach the size, the duration or any other response header
    for risky in (
        "%(b)s",
        "%(B)s",
        "%(D)s",
        "%(M)s",
        "%(T)s",
        "%(L)s",
        "%({content-length}o)s",
        "%({set-cookie}o)s",
    ):
        probe = dict(config, access_log_format=risky)
        assert _access_line(probe, b"x" * 3_000, [("Set-Cookie", "s=1")]) in {"-", "None"}, risky


def test_request_log_has_no_duration_for_respondent_pages(app, client, caplog) -> None:
    with app.app_context():
        wave = make_wave("staff-pulse")
        slug, instrument = wave.slug, wave.instrument_version.instrument
    with caplog.at_level(logging.INFO, logger="survey_app.request"):
        check = answer_pages(client, slug, instrument, full_answers(instrument))
        assert send(client, slug, check).status_code == 303
        client.get("/auth/sign-in")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "survey_app.request"]
    survey = [line for line in lines if line["route"].startswith("/s/")]
    staff = [line for line in lines if line["route"].startswith("/auth/")]
    assert survey and staff
    assert all("ms" not in line for line in survey)
    assert all("ms" in line for line in staff)  # operators keep timings of staff pages
