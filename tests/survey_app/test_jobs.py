"""The background-job service (survey_app.jobs) on every backend, SQLite and PostgreSQL:
state transitions, one job per key across processes, failures recorded, the thread backend
off the caller's thread, RQ against the real Redis with a separate worker process."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from survey_app import jobs
from survey_app.config import ConfigError
from survey_app.extensions import db
from survey_app.models import AuditEntry, Job
from tests.conftest import REPO, make_app
from tests.survey_app import job_functions

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def runs(app) -> list[dict]:
    with app.app_context():
        return [
            e.detail
            for e in db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "test job ran")
                .order_by(AuditEntry.id)
            )
        ]


def wait_until_ended(app, job_id: str, seconds: float = 60) -> jobs.JobState:
    deadline = time.monotonic() + seconds
    while True:
        with app.app_context():
            state = jobs.job_state(job_id)
        if state is not None and not state.active:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {state and state.status} after {seconds} s")
        time.sleep(0.05)


def test_eager_job_runs_with_the_arguments_and_records_each_step(app_with) -> None:
    app = app_with(JOBS_BACKEND="eager")
    with app.app_context():
        job_id = jobs.enqueue(job_functions.record_run, "first", extra="kw", key="results")
        state = jobs.job_state(job_id)
        assert jobs.latest_job("results") == state
    assert state.status == "finished" and state.error is None and not state.active
    assert state.function == "tests.survey_app.job_functions:record_run"
    assert state.enqueued_at <= state.started_at <= state.finished_at
    assert [(r["label"], r["extra"]) for r in runs(app)] == [("first", "kw")]
    with app.app_context():  # the key is free again once the job ended: a second run is a new job
        second = jobs.enqueue(job_functions.record_run, "second", key="results")
        assert second != job_id and jobs.latest_job("results").id == second
        assert jobs.job_state("no-such-job") is None and jobs.latest_job("never-used") is None
    assert [r["label"] for r in runs(app)] == ["first", "second"]


def test_a_failing_job_records_a_one_line_error_and_logs_the_traceback(app_with, caplog) -> None:
    app = app_with(JOBS_BACKEND="eager")
    with caplog.at_level(logging.ERROR, logger="survey_app.jobs"), app.app_context():
        job_id = jobs.enqueue(job_functions.fail, "the margins file is empty", key="results")
        state = jobs.job_state(job_id)
        # The caller's session still works, and the key is free for a retry.
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1
        retry = jobs.enqueue(job_functions.record_run, "retry", key="results")
    assert state.status == "failed" and state.finished_at is not None
    assert state.error == "ValueError: the margins file is empty"
    assert "Traceback" not in state.error
    logged = [r for r in caplog.records if r.name == "survey_app.jobs" and r.exc_info]
    assert logged and job_id in logged[0].getMessage()
    assert wait_until_ended(app, retry).status == "finished"


def test_the_thread_backend_runs_jobs_off_the_callers_thread(app_with, tmp_path: Path) -> None:
    app = app_with(JOBS_BACKEND="thread")
    release = tmp_path / "release"
    with app.app_context():
        job_id = jobs.enqueue(job_functions.wait_for_file, str(release), "threaded", key="slow")
        # enqueue returned while the job waits for a file only this thread will create
        assert jobs.job_state(job_id).active
        again = jobs.enqueue(job_functions.wait_for_file, str(release), "duplicate", key="slow")
    assert again == job_id
    release.touch()
    state = wait_until_ended(app, job_id)
    assert state.status == "finished"
    done = runs(app)
    assert [r["label"] for r in done] == ["threaded"]
    assert done[0]["thread"] != threading.current_thread().name


def test_one_key_has_one_job_in_flight_across_processes(app_with, tmp_path: Path) -> None:
    """Eight "processes" (apps with their own engines) enqueue one key at the same moment: one
    job is created and every caller gets its id; the database's unique key decides."""
    apps = [app_with(JOBS_BACKEND="thread") for _ in range(8)]
    release = tmp_path / "release"
    barrier = threading.Barrier(len(apps))
    ids: list[str] = []
    errors: list[BaseException] = []

    def enqueue_from(app) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                ids.append(jobs.enqueue(job_functions.wait_for_file, str(release), key="results"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=enqueue_from, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(ids) == len(apps)
    assert len(set(ids)) == 1
    with apps[0].app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Job).where(Job.key == "results"))
            == 1
        )
    release.touch()
    assert wait_until_ended(apps[0], ids[0]).status == "finished"
    assert len(runs(apps[0])) == 1


def test_a_job_that_outlives_the_timeout_is_reported_failed_and_its_key_freed(app_with) -> None:
    # RQ with no worker running: the job stays queued until it is given up on.
    queue_name = f"pulse-test-{secrets.token_hex(4)}"
    app = app_with(
        JOBS_BACKEND="rq", JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=queue_name, JOBS_TIMEOUT_SECONDS=0.5
    )
    try:
        with app.app_context():
            stuck = jobs.enqueue(job_functions.record_run, "never", key="results")
            assert jobs.job_state(stuck).status == "queued"
            time.sleep(0.6)
            state = jobs.latest_job("results")
            assert state.id == stuck and state.status == "failed"
            assert "did not finish" in state.error and "worker" in state.error
            fresh = jobs.enqueue(job_functions.record_run, "fresh", key="results")
            assert fresh != stuck
            assert jobs.job_state(stuck).status == "failed"  # recorded now, not only reported
            assert db.session.get(Job, stuck).active_key is None
    finally:
        _delete_queue(app)


def test_an_unreachable_queue_is_a_recorded_failure_not_an_exception(app_with, caplog) -> None:
    app = app_with(JOBS_BACKEND="rq", JOBS_REDIS_URL="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.ERROR, logger="survey_app.jobs"), app.app_context():
        job_id = jobs.enqueue(job_functions.record_run, "lost", key="results")
        state = jobs.job_state(job_id)
        assert state.status == "failed" and state.error.startswith("could not be queued: ")
        assert db.session.get(Job, job_id).active_key is None
    assert any(job_id in r.getMessage() for r in caplog.records)


def test_only_module_level_functions_can_be_jobs(app) -> None:
    def nested() -> None:
        pass

    with app.app_context():
        for func_ in (nested, lambda: None, Path("x").exists):
            with pytest.raises(ValueError, match="module-level"):
                jobs.enqueue(func_)
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"JOBS_BACKEND": "celery"}, "not a job backend"),
        ({"JOBS_BACKEND": "rq", "JOBS_REDIS_URL": None}, "needs JOBS_REDIS_URL"),
    ],
)
def test_a_bad_jobs_configuration_stops_the_app_with_what_to_set(
    tmp_path: Path, config, message
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(f"sqlite:///{tmp_path / 'pulse.db'}", **config)


def _delete_queue(app) -> None:
    from redis import Redis

    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"*{app.config['JOBS_QUEUE']}*"):
        redis.delete(key)


def _worker(database_url: str, queue_name: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PULSE_CONFIG": "testing",
        "TEST_DATABASE_URL": database_url,
        "JOBS_BACKEND": "rq",
        "JOBS_REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": queue_name,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "survey_app:create_app",
            "jobs",
            "worker",
            "--burst",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rq_jobs_wait_in_redis_and_run_in_a_worker_process(app_with, database_url: str) -> None:
    queue_name = f"pulse-test-{secrets.token_hex(4)}"
    app = app_with(JOBS_BACKEND="rq", JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=queue_name)
    try:
        with app.app_context():
            ok = jobs.enqueue(job_functions.record_run, "by rq", extra="kw", key="results")
            duplicate = jobs.enqueue(job_functions.record_run, "duplicate", key="results")
            failing = jobs.enqueue(job_functions.fail, "no margins")
            assert duplicate == ok
            assert jobs.job_state(ok).status == "queued"  # nothing runs until a worker takes it
        assert runs(app) == []
        worker = _worker(database_url, queue_name)
        assert worker.returncode == 0, worker.stderr
        with app.app_context():
            assert jobs.job_state(ok).status == "finished"
            failed = jobs.job_state(failing)
        assert failed.status == "failed" and failed.error == "ValueError: no margins"
        done = runs(app)
        assert [(r["label"], r["extra"]) for r in done] == [("by rq", "kw")]
        assert "job" in worker.stderr  # the worker logged its work; the failure's traceback too
        assert "ValueError: no margins" in worker.stderr
    finally:
        _delete_queue(app)


def test_the_job_migration_downgrades_and_upgrades_again(db_app) -> None:
    from flask_migrate import downgrade, upgrade

    with db_app.app_context():
        assert "job" in inspect(db.engine).get_table_names()
        downgrade(revision="0005")
        assert "job" not in inspect(db.engine).get_table_names()
        upgrade()
        assert {c["name"] for c in inspect(db.engine).get_columns("job")} >= {
            "key",
            "active_key",
            "status",
            "error",
        }
