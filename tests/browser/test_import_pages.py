"""An invitation list imported by a background job, in a real browser: the upload returns at
once to the import's page, which says the import is running, then how many were imported;
a refused file lists its rows. axe-core (WCAG 2.2 A/AA) runs on each state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from instruments import load_definitions
from survey_app import imports
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import InstrumentVersion, Role, Wave, WaveMode

from ..conftest import make_app
from ..survey_app.helpers import add_user
from .accessibility import audit
from .conftest import serve, sign_in

pytestmark = pytest.mark.browser
CONTACTS = "email,name\n" + "".join(f"member{i}@council.example,Member {i}\n" for i in range(40))


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[str, int, threading.Event]]:
    """An invite wave served on loopback with jobs on a worker thread; the import's check
    waits for the returned event, so the page can be seen while the import runs."""
    app = make_app(f"sqlite:///{tmp_path / 'imports.db'}", JOBS_BACKEND="thread")
    with app.app_context():
        upgrade()
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
        )
        wave = Wave(
            label="2026-Q4",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=dt.date.today(),
            closes_on=dt.date.today() + dt.timedelta(days=9),
        )
        db.session.add(wave)
        db.session.commit()
        wave_id = wave.id
    add_user(app, "analyst@council.example", Role.ANALYST)
    go = threading.Event()
    real = imports.IMPORTERS["invitations"]

    def held_check(*args):
        go.wait(60)
        return real.check(*args)

    monkeypatch.setitem(
        imports.IMPORTERS, "invitations", dataclasses.replace(real, check=held_check)
    )
    with serve(app) as base:
        try:
            yield base, wave_id, go
        finally:
            go.set()  # a held import finishes before the server stops


def _upload(page, text: str) -> None:
    page.set_input_files(
        "#file",
        files=[{"name": "invitations.csv", "mimeType": "text/csv", "buffer": text.encode()}],
    )
    page.click("button:has-text('Upload invitations')")
    page.wait_for_load_state()


def test_the_import_page_follows_a_long_import(served, chromium, output_dir) -> None:
    base, wave_id, go = served
    problems: dict[str, list[str]] = {}
    page = chromium.new_context(viewport={"width": 1024, "height": 800}).new_page()
    sign_in(page, base, "analyst@council.example")
    page.goto(f"{base}/programme/waves/{wave_id}")

    _upload(page, CONTACTS)
    assert "/programme/imports/" in page.url
    assert page.locator("h1").inner_text() == "The invitations are being imported"
    audit(page, output_dir, "import-running", problems)
    go.set()
    for _ in range(200):
        page.click("text=Check again")
        if "being imported" not in page.locator("h1").inner_text():
            break
    assert page.locator("h1").inner_text() == "40 invitations imported"
    audit(page, output_dir, "import-done", problems)

    page.click("text=Back to the wave")
    _upload(page, "email\nnot-an-address\n")
    if "/programme/imports/" in page.url:  # the job had not finished when the upload returned
        for _ in range(200):
            if page.locator(".govuk-error-summary").count():
                break
            page.click("text=Check again")
    summary = page.locator(".govuk-error-summary")
    assert "Row 2: 'not-an-address' is not a valid email address" in summary.inner_text()
    audit(page, output_dir, "import-refused", problems)
    assert not problems, problems
