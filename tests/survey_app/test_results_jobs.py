"""Results computed off the request and known to be stale, through HTTP and the commands:
the Recompute button queues a job and returns at once, the scorecard shows it running, then
finished or failed; one computation at a time; every kind of data change makes stored
results stale; only the newest three results are kept; closing a wave and `survey release`
bring results up to date."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from instruments import SHIPPED_DIR
from survey_app import recompute
from survey_app.extensions import db
from survey_app.models import (
    AnalysisResult,
    Answer,
    AuditEntry,
    InstrumentVersion,
    Job,
    KpiValue,
    MeasureTarget,
    PopulationMargin,
    Response,
    Role,
    Wave,
)
from survey_app.results import compute_results, latest_results

from .helpers import add_user, csrf, member_wave_with, sign_in

REDIS_URL = "redis://127.0.0.1:6379/0"
TWELVE_MEMBERS = [{"M01": "5" if i % 3 else "2", "M02": "4"} for i in range(12)]


def _analyst(app):
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    sign_in(client, "analyst@council.example")
    return client


def _scorecard(client) -> str:
    return client.get("/dashboard/").get_data(as_text=True)


def _press_recompute(client):
    return client.post("/dashboard/recompute", data={"csrf_token": csrf(client, "/dashboard/")})


def _results_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AnalysisResult))


def _wait_until_idle(client, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while True:
        page = _scorecard(client)
        if "being recomputed" not in page:
            return page
        if time.monotonic() > deadline:
            raise AssertionError("the recomputation never ended")
        time.sleep(0.1)


def test_the_button_returns_at_once_and_the_page_follows_the_job(app_with, monkeypatch) -> None:
    """The thread backend: the computation is held back (the real one runs once the test
    lets it), so the page can be seen while it runs; a second press starts nothing."""
    app = app_with(JOBS_BACKEND="thread")
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
    go = threading.Event()
    real_compute = recompute.compute_results

    def held_compute():
        assert go.wait(60), "the test never let the computation run"
        return real_compute()

    monkeypatch.setattr(recompute, "compute_results", held_compute)
    analyst = _analyst(app)
    first = _scorecard(analyst)
    assert "No results have been computed yet" in first and "Recompute the results now" in first
    pressed = _press_recompute(analyst)
    assert pressed.status_code == 302  # returned while the computation cannot have run
    page = _scorecard(analyst)
    assert "being recomputed in the background" in page  # the flash message
    assert "The results are being recomputed" in page and "Refresh this page" in page
    assert "Recompute the results now" not in page  # no second computation offered
    assert _results_count(app) == 0
    _press_recompute(analyst)  # e.g. a second analyst, or a double click
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1
    go.set()
    done = _wait_until_idle(analyst)
    assert "Results computed" in done and "from 12 responses" in done
    assert "The data have changed" not in done and "Recompute the results now" not in done
    assert _results_count(app) == 1
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert (
        actions.count("results recompute requested") == 2
        and actions.count("results recomputed") == 1
    )


def test_a_failed_computation_says_why_on_the_page_without_a_traceback(
    app, monkeypatch, caplog
) -> None:
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
        compute_results()
        db.session.execute(update(Wave).values(label="2026-Q3 (renamed)"))
        db.session.commit()

    def broken_run(*_args, **_kwargs):
        raise ValueError("margin 'ward' has no category 'Grays'")

    monkeypatch.setattr("analysis.run", broken_run)
    analyst = _analyst(app)
    with caplog.at_level(logging.ERROR, logger="survey_app.jobs"):
        _press_recompute(analyst)
    page = _scorecard(analyst)
    assert "failed: ValueError: margin &#39;ward&#39; has no category &#39;Grays&#39;" in page
    assert "Traceback" not in page and "broken_run" not in page
    assert "The figures below are from the previous computation" in page
    assert "Try the recomputation again" in page
    assert any(r.exc_info for r in caplog.records if r.name == "survey_app.jobs")
    monkeypatch.undo()
    _press_recompute(analyst)
    page = _scorecard(analyst)
    assert "failed" not in page and "The data have changed" not in page


def _add_answer(wave_id: int) -> None:
    response = db.session.scalar(select(Response).where(Response.wave_id == wave_id).limit(1))
    db.session.add(Answer(response_id=response.id, question_id="M03", value="3"))


def _remove_response(wave_id: int) -> None:
    response_id = db.session.scalar(select(Response.id).where(Response.wave_id == wave_id).limit(1))
    db.session.execute(delete(Answer).where(Answer.response_id == response_id))
    db.session.execute(delete(Response).where(Response.id == response_id))


def _new_version(_wave_id: int) -> None:
    stored = db.session.scalar(select(InstrumentVersion).limit(1))
    definition = dict(stored.definition, title=stored.definition["title"] + " (revised)")
    db.session.add(
        InstrumentVersion(
            instrument_id=stored.instrument_id,
            version="f" * 64,
            title=definition["title"],
            audience=stored.audience,
            definition=definition,
        )
    )


CHANGES = {
    "an answer added to a response": _add_answer,
    "a response removed": _remove_response,
    "a response's weight": lambda wave_id: db.session.execute(
        update(Response)
        .where(
            Response.id
            == select(Response.id).where(Response.wave_id == wave_id).limit(1).scalar_subquery()
        )
        .values(weight=2.0)
    ),
    "a wave's label": lambda _wave_id: db.session.execute(update(Wave).values(label="2026-Q3b")),
    "a wave's closing date": lambda _wave_id: db.session.execute(
        update(Wave).values(closes_on=dt.date(2026, 8, 1))
    ),
    "a wave's audience size": lambda _wave_id: db.session.execute(
        update(Wave).values(audience_size=49)
    ),
    "an instrument version": _new_version,
    "a KPI value recorded": lambda _: db.session.add(
        KpiValue(measure_id="M1.1", period="2026-Q3", value=4.0, source="test")
    ),
    "a target changed": lambda _: db.session.add(
        MeasureTarget(
            measure_id="M1.1", target=60.0, direction="up", amber_margin=5.0, reason="test"
        )
    ),
    "a population margin": lambda _: db.session.add(
        PopulationMargin(audience="residents", variable="sex", category="Female", population=65500)
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_to_what_results_depend_on_makes_them_stale(db_app, change: str) -> None:
    with db_app.app_context():
        wave_id = member_wave_with(TWELVE_MEMBERS)
        db.session.add(KpiValue(measure_id="M9.9", period="2026-Q2", value=1.0, source="test"))
        db.session.commit()
        compute_results()
        assert latest_results()[1] is False
    # analysts read the latest stored results and are told they are stale; viewers read the
    # published figures, which never go stale (survey_app/publication.py)
    analyst = _analyst(db_app)
    assert "The data have changed" not in _scorecard(analyst)
    with db_app.app_context():
        CHANGES[change](wave_id)
        db.session.commit()
    assert "The data have changed since then" in _scorecard(analyst), change


def test_a_kpi_value_corrected_in_place_makes_results_stale(app) -> None:
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
        db.session.add(KpiValue(measure_id="M1.1", period="2026-Q3", value=4.0, source="test"))
        db.session.commit()
        compute_results()
        db.session.execute(update(KpiValue).values(value=4.5))
        db.session.commit()
        assert latest_results()[1] is True


@pytest.mark.parametrize(
    ("filename", "old", "new"),
    [
        ("redaction.yaml", "  - Patel\n", "  - Patel\n  - Okonkwo\n"),
        ("codebook.yaml", None, None),
        ("framework.yaml", None, None),
    ],
)
def test_a_change_to_the_definitions_makes_results_stale(
    app_with, tmp_path: Path, filename, old, new
) -> None:
    folder = tmp_path / "definitions"
    shutil.copytree(SHIPPED_DIR, folder)
    before = app_with(INSTRUMENTS_DIR=str(folder))
    with before.app_context():
        member_wave_with(TWELVE_MEMBERS)
        compute_results()
    path = folder / filename
    text = path.read_text(encoding="utf-8")
    if old is None:  # the first title in the file, reworded
        line = next(line for line in text.splitlines() if "title:" in line)
        old, new = line, line.rstrip() + " (revised)"
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    after = app_with(INSTRUMENTS_DIR=str(folder))  # the app reads the folder when it starts
    with after.app_context():
        assert latest_results()[1] is True
    with before.app_context():  # an app still running on the old files analyses with them
        assert latest_results()[1] is False


def test_only_the_newest_three_results_are_kept(app) -> None:
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
        ids = [compute_results().id for _ in range(5)]
        kept = db.session.scalars(select(AnalysisResult.id).order_by(AnalysisResult.id)).all()
    assert kept == ids[-3:]


def test_closing_a_wave_brings_the_results_up_to_date(app) -> None:
    with app.app_context():
        wave_id = member_wave_with(TWELVE_MEMBERS)
        db.session.execute(update(Wave).values(closes_on=dt.date.today() + dt.timedelta(days=10)))
        db.session.commit()
        compute_results()
    analyst = _analyst(app)
    token = csrf(analyst, f"/programme/waves/{wave_id}")
    closed = analyst.post(
        f"/programme/waves/{wave_id}/close-now", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "The results are being recomputed in the background" in closed
    assert _results_count(app) == 2
    page = _scorecard(analyst)
    assert "The data have changed" not in page and "Results computed" in page


def test_survey_release_recomputes_only_when_asked_and_stale(app) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
    quiet = runner.invoke(args=["survey", "release", "--no-recompute"])
    assert quiet.exit_code == 0 and "Results" not in quiet.output and _results_count(app) == 0
    done = runner.invoke(args=["survey", "release"])
    assert done.exit_code == 0, done.output
    assert "Results: up to date." in done.output and _results_count(app) == 1
    again = runner.invoke(args=["survey", "release"])  # nothing changed: nothing computed
    assert again.exit_code == 0 and _results_count(app) == 1


def test_survey_release_queues_for_the_worker_and_flask_results_will_not_run_beside_it(
    app_with,
) -> None:
    queue_name = f"pulse-test-{secrets.token_hex(4)}"
    app = app_with(JOBS_BACKEND="rq", JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=queue_name)
    runner = app.test_cli_runner()
    try:
        with app.app_context():
            member_wave_with(TWELVE_MEMBERS)
        queued = runner.invoke(args=["survey", "release"])
        assert queued.exit_code == 0 and "Results: recomputation queued as job" in queued.output
        refused = runner.invoke(args=["results"])
        assert refused.exit_code == 1
        assert (
            "a computation is already queued" in refused.output
            and "not started again" in refused.output
        )
        assert _results_count(app) == 0
    finally:
        from redis import Redis

        redis = Redis.from_url(REDIS_URL)
        for key in redis.scan_iter(f"*{queue_name}*"):
            redis.delete(key)


def test_flask_results_computes_here_and_reports_a_failure(app, monkeypatch) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        member_wave_with(TWELVE_MEMBERS)
    ok = runner.invoke(args=["results"])
    assert ok.exit_code == 0 and "Computed results for 12 responses" in ok.output
    assert "are up to date" in runner.invoke(args=["results", "--if-stale"]).output

    def broken_run(*_args, **_kwargs):
        raise ValueError("no margins")

    monkeypatch.setattr("analysis.run", broken_run)
    failed = runner.invoke(args=["results"])
    assert (
        failed.exit_code == 1 and "the computation failed: ValueError: no margins" in failed.output
    )
    assert _results_count(app) == 1
