"""Uploaded files are imported by a background job, once per form and file: the request
returns before the import runs, the import's page follows it, the same form sent again
imports nothing more, and a refused file stores nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import threading
import time

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from instruments import load_definitions
from survey_app import imports, jobs
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import (
    AuditEntry,
    InstrumentVersion,
    Invitation,
    Response,
    Role,
    UploadImport,
    Wave,
    WaveMode,
)

from .helpers import add_user, sign_in

TODAY = dt.date.today()
KEY = re.compile(r'name="import_key" type="hidden" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _invite_wave(app) -> int:
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
        )
        wave = Wave(
            label="2026-Q4",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=TODAY,
            closes_on=TODAY + dt.timedelta(days=9),
        )
        db.session.add(wave)
        db.session.commit()
        return wave.id


def _analyst(app):
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    assert sign_in(client, "analyst@council.example").status_code == 302
    return client


def _form(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    return {"csrf_token": CSRF.search(page).group(1), "import_key": KEY.search(page).group(1)}


def _post(client, path: str, form: dict[str, str], text: str, name: str = "list.csv"):
    return client.post(
        path,
        content_type="multipart/form-data",
        data={**form, "file": (io.BytesIO(text.encode()), name)},
    )


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


CONTACTS = "email,name\n" + "".join(f"member{i}@council.example,Member {i}\n" for i in range(300))


def test_an_upload_returns_at_once_and_the_import_page_follows_the_job(
    app_with, monkeypatch
) -> None:
    app = app_with(JOBS_BACKEND="thread")
    wave_id = _invite_wave(app)
    go = threading.Event()
    real = imports.IMPORTERS["invitations"]

    def held_check(*args):  # the long part of a long import: checking every row
        assert go.wait(60), "the test never let the import run"
        return real.check(*args)

    monkeypatch.setitem(
        imports.IMPORTERS, "invitations", dataclasses.replace(real, check=held_check)
    )
    client = _analyst(app)
    form = _form(client, f"/programme/waves/{wave_id}")
    sent = _post(client, f"/programme/waves/{wave_id}/invitations", form, CONTACTS)
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/programme/imports/")
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "The invitations are being imported" in page and _count(app, Invitation) == 0
    again = _post(
        client, f"/programme/waves/{wave_id}/invitations", form, CONTACTS
    )  # a double click
    assert again.headers["Location"] == sent.headers["Location"]  # the same import, not a second
    go.set()
    deadline = time.monotonic() + 60
    while "being imported" in (page := client.get(sent.headers["Location"]).get_data(as_text=True)):
        assert time.monotonic() < deadline, "the import never finished"
        time.sleep(0.05)
    assert "300 invitations imported" in page
    assert _count(app, Invitation) == 300
    with app.app_context():
        upload = db.session.scalar(select(UploadImport))
        # the rows and the import's outcome commit first; the job's own row is marked
        # finished a moment later, by the worker thread
        job = jobs.wait(imports.import_state(upload.id).job.id, timeout=60)
        assert job.function == "survey_app.imports:run_import" and job.status == "finished"
        actions = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "invitations uploaded")
        ).all()
        assert [a.detail["count"] for a in actions] == [300] and actions[0].user_id is not None


def test_the_same_form_and_file_are_imported_once(app_with) -> None:
    app = app_with()  # testing configuration: jobs run at once (eager)
    wave_id = _invite_wave(app)
    client = _analyst(app)
    form = _form(client, f"/programme/waves/{wave_id}")
    first = _post(client, f"/programme/waves/{wave_id}/invitations", form, CONTACTS)
    assert first.status_code == 302 and first.headers["Location"] == f"/programme/waves/{wave_id}"
    again = _post(client, f"/programme/waves/{wave_id}/invitations", form, CONTACTS)
    assert again.status_code == 302
    shown = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "That file was already imported: 300 invitations added" in shown
    assert _count(app, Invitation) == 300 and _count(app, UploadImport) == 1
    other = CONTACTS.replace("member0@", "someone.else@")  # a different file on the same form
    refused = _post(client, f"/programme/waves/{wave_id}/invitations", form, other)
    assert refused.status_code == 400 and "has already been invited" in refused.get_data(
        as_text=True
    )
    assert _count(app, Invitation) == 300 and _count(app, UploadImport) == 2


def test_a_refused_returns_file_stores_nothing_and_the_form_gets_a_new_key(app_with) -> None:
    app = app_with()
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(
                InstrumentVersion.instrument_id == "resident-perception"
            )
        )
        wave = Wave(
            label="Postal",
            instrument_version=version,
            audience="residents",
            mode=WaveMode.OPEN,
            opens_on=TODAY - dt.timedelta(days=5),
            closes_on=TODAY + dt.timedelta(days=20),
        )
        db.session.add(wave)
        db.session.commit()
        wave_id = wave.id
    client = _analyst(app)
    path = f"/programme/waves/{wave_id}/returns/new"
    form = _form(client, path)
    bad = _post(
        client,
        f"/programme/waves/{wave_id}/returns/import",
        form,
        "P01,P02\n4,5\n9,9\n",
        "returns.csv",
    )
    page = bad.get_data(as_text=True)
    assert (
        bad.status_code == 400
        and "Row 3, P01" in page
        and "Nothing from the file was stored" in page
    )
    assert KEY.search(page).group(1) != form["import_key"]  # the corrected file is a new import
    assert _count(app, Response) == 0
    with app.app_context():
        (upload,) = db.session.scalars(select(UploadImport)).all()
        assert upload.status.value == "refused" and upload.imported == 0
    good = _post(
        client,
        f"/programme/waves/{wave_id}/returns/import",
        {**form, "import_key": KEY.search(page).group(1)},
        "P01,P02\n4,5\n2,1\n",
        "returns.csv",
    )
    assert good.status_code == 302 and _count(app, Response) == 2


def test_migration_0011_upgrades_and_downgrades(database_url) -> None:
    from tests.conftest import make_app

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        assert "upload_import" in inspect(db.engine).get_table_names()
        downgrade(revision="0010")  # the revision below 0011 since the merge re-chained them
        assert "upload_import" not in inspect(db.engine).get_table_names()
        upgrade()
        assert "upload_import" in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()


def test_an_import_that_fails_stores_nothing_and_says_so(app_with, monkeypatch) -> None:
    app = app_with()
    wave_id = _invite_wave(app)
    real = imports.IMPORTERS["invitations"]

    def broken_store(wave, contacts, user_id):
        real.store(wave, contacts, user_id)  # the rows are added, then the job dies
        raise RuntimeError("disk full")

    monkeypatch.setitem(
        imports.IMPORTERS, "invitations", dataclasses.replace(real, store=broken_store)
    )
    client = _analyst(app)
    failed = _post(
        client,
        f"/programme/waves/{wave_id}/invitations",
        _form(client, f"/programme/waves/{wave_id}"),
        CONTACTS,
    )
    page = failed.get_data(as_text=True)
    assert failed.status_code == 400
    assert (
        "The import did not finish (RuntimeError: disk full). Nothing from the file was stored"
        in page
    )
    assert _count(app, Invitation) == 0
    with app.app_context():
        (upload,) = db.session.scalars(select(UploadImport)).all()
        assert imports.import_state(upload.id).status == "failed"
