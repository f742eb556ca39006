"""A database outage gets 503 "not saved, try again" on every page that needs the database,
respondents' and staff's alike, never a 500; the service recovers by itself.
(tests/faults/test_faults.py does the same against a real PostgreSQL stopped under load.)"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from survey_app.errors import MESSAGES
from survey_app.extensions import db
from survey_app.models import Answer, Role

from .helpers import add_user, csrf, sign_in
from .survey_helpers import answer_pages, full_answers, make_wave, release_all, send

UNAVAILABLE = MESSAGES[503][0]
NOT_SAVED = "Your answers were not saved, please try again"


def _take_database_away(app, database: Path) -> list[tuple[Path, Path]]:
    """The database file becomes unreachable: moved aside, with a folder in its place, which
    SQLite cannot open (as a stopped server cannot be reached)."""
    with app.app_context():
        db.engine.dispose()
    moved = []
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        if path.exists():
            aside = path.with_name(path.name + ".away")
            path.rename(aside)
            moved.append((aside, path))
    database.mkdir()
    return moved


def _bring_it_back(app, database: Path, moved: list[tuple[Path, Path]]) -> None:
    database.rmdir()
    for aside, path in moved:
        aside.rename(path)
    with app.app_context():
        db.engine.dispose()


def test_every_page_that_needs_the_database_says_not_saved_try_again(app, tmp_path: Path) -> None:
    database = tmp_path / "pulse.db"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    with app.app_context():
        wave = make_wave("resident-perception")
        slug, instrument = wave.slug, wave.instrument_version.instrument
    add_user(app, "viewer@council.example", Role.VIEWER)
    staff = app.test_client()
    sign_in(staff, "viewer@council.example")
    respondent = app.test_client()
    answers = full_answers(instrument)
    answers["P90"] = "The bins were late again on Tuesday."
    check_page = answer_pages(respondent, slug, instrument, answers)
    newcomer = app.test_client()
    sign_in_token = csrf(newcomer, "/auth/sign-in")

    moved = _take_database_away(app, database)
    try:
        pages = {
            "a survey page": respondent.get(f"/s/{slug}/1"),
            "the scorecard": staff.get("/dashboard/"),
            "the response overview": staff.get("/staff/"),
            "signing in": newcomer.post(
                "/auth/sign-in",
                data={
                    "csrf_token": sign_in_token,
                    "email": "viewer@council.example",
                    "password": "x" * 12,
                },
            ),
        }
        for name, page in pages.items():
            assert page.status_code == 503, (name, page.status_code)
            assert UNAVAILABLE in page.get_data(as_text=True), name
            assert page.headers["Retry-After"] == "30", name
        # the survey's own page keeps the form to send again; the answers are kept in the
        # sealed server-side draft, which is out of reach to show while the database is away
        sent = send(respondent, slug, check_page)
        assert sent.status_code == 503
        shown = sent.get_data(as_text=True)
        assert NOT_SAVED in shown
        assert "Your answers cannot be shown just now, but they are kept." in shown
        health = app.test_client().get("/healthz")
        assert health.status_code == 503 and health.get_json()["database"] == "unreachable"
    finally:
        _bring_it_back(app, database, moved)

    assert staff.get("/dashboard/").status_code == 200  # recovered without a restart
    assert send(respondent, slug, check_page).status_code == 303  # the same form, sent again
    assert release_all(app) == 1  # held, then released: the kept answers arrive whole
    with app.app_context():
        stored = db.session.scalar(select(Answer.value).where(Answer.question_id == "P90"))
    assert stored == "The bins were late again on Tuesday."
