"""Under load and faults, nothing acknowledged is lost.

A throwaway PostgreSQL cluster of the test's own (initdb in a temporary folder, a random
port, run as the ``postgres`` user when the test runs as root; never the machine's shared
server) serves the app under gunicorn (2 workers) on a random loopback port. Four
respondent threads answer an open-wave survey while the test kills a gunicorn worker with
SIGKILL and then takes PostgreSQL down (``pg_ctl stop -m immediate``) and up again once
the load has met the outage. Every respondent retries server and connection errors as a
person pressing the button again would.

Then: every submission that reached the confirmation page is stored exactly once (each
carries a unique free-text marker), nothing is stored twice, the app recovered without a
restart (``/healthz`` OK, a new respondent gets through first time), and a submission sent
while the database was down was kept in the respondent's draft and stored once on
resending. No wall-clock time is asserted; the load is bounded by count and deadline.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from survey_app import create_app
from survey_app.extensions import db
from survey_app.survey.store import release_held

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loadgen

pytestmark = [pytest.mark.faults, pytest.mark.slow]

THREADS = 4
PER_THREAD = 10
# A hard cap on the whole load, not an assertion: nothing waits for it to pass, but a
# respondent still retrying after it gives up, and fails the test. Three runs on the shared
# 2-core machine (load average 10 to 14) took 92 to 118 s of what was a 120 s cap: too
# close, so a slow machine rather than a lost answer could fail it.
DEADLINE_S = 300


def _to_check_page(base: str, plan: loadgen.Plan, marker: str):
    """A respondent who has answered every page and is looking at the check page."""
    respondent = loadgen.Respondent(base, plan)
    http = respondent.http
    answers = dict(plan.answers, **{plan.text_field: marker})
    assert http.get(f"{base}/s/{plan.slug}").status_code == 200
    for number, fields in plan.pages:
        page = http.get(f"{base}/s/{plan.slug}/{number}")
        data = {"csrf_token": loadgen._hidden(loadgen._CSRF, page.text)}
        data.update({f: answers[f] for f in fields if f in answers})
        assert (
            http.post(
                f"{base}/s/{plan.slug}/{number}", data=data, allow_redirects=False
            ).status_code
            == 303
        )
    check = http.get(f"{base}/s/{plan.slug}/check")
    assert check.status_code == 200
    return http, loadgen.send_form(check.text)


# A release waiting to insert into ``response``: nothing else in the app writes to it.
RELEASE_WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'response'::regclass"
)


def _wait_for_workers(master_pid: int, n: int, deadline: float) -> list[int]:
    while time.monotonic() < deadline:
        pids = loadgen.worker_pids(master_pid)
        if len(pids) == n:
            return pids
        time.sleep(0.1)
    return loadgen.worker_pids(master_pid)


def _kill_workers_mid_release(engine, master_pid: int, deadline: float) -> int:
    """Hold a lock on ``response`` until a release is waiting on it, SIGKILL every worker,
    let go; how many releases were caught waiting."""
    with engine.connect() as locker:
        locker.execute(text("LOCK TABLE response IN SHARE MODE"))  # INSERTs wait for it
        waiting = 0
        with engine.connect() as watcher:
            while not waiting and time.monotonic() < deadline:
                waiting = watcher.execute(RELEASE_WAITING).scalar_one()
                time.sleep(0.05)
        for pid in loadgen.worker_pids(master_pid):
            os.kill(pid, signal.SIGKILL)
        locker.rollback()
    return waiting


def test_nothing_acknowledged_is_lost_under_worker_kill_and_database_restart(cluster, tmp_path):
    plan = loadgen.prepare(cluster.url)
    assert plan.text_field, "the survey needs a free-text question to carry the marker"
    log = tmp_path / "gunicorn.log"
    secret = secrets.token_hex(32)  # shared with the release at the end: it opens held rows
    server, base = loadgen.start_gunicorn(
        cluster.url,
        workers=2,
        threads=4,
        log=log,
        GUNICORN_TIMEOUT="20",
        GUNICORN_ACCESSLOG="-",
        SECRET_KEY=secret,
    )
    engine = create_engine(cluster.url, pool_pre_ping=True)  # outlives the restart below
    outcomes: list[loadgen.Outcome] = []
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE_S

    def respondents() -> None:
        for _ in range(PER_THREAD):
            if time.monotonic() > deadline:
                return
            outcome = loadgen.Respondent(base, plan, retry=True, deadline=deadline).run()
            with lock:
                outcomes.append(outcome)

    def confirmed() -> int:
        with lock:
            return sum(o.confirmed for o in outcomes)

    def wait_for(n: int) -> None:
        while confirmed() < n and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        load = [threading.Thread(target=respondents, daemon=True) for _ in range(THREADS)]
        for thread in load:
            thread.start()

        caught = _kill_workers_mid_release(engine, server.pid, deadline)
        assert caught, "no release was caught between the two commits"
        _wait_for_workers(server.pid, 2, deadline)

        wait_for(6)
        workers_before = _wait_for_workers(server.pid, 2, deadline)
        assert len(workers_before) == 2
        os.kill(workers_before[0], signal.SIGKILL)

        wait_for(max(14, confirmed() + 4))
        probe_marker = loadgen.new_marker()
        probe, form = _to_check_page(base, plan, probe_marker)
        felt = loadgen.faults_seen()
        cluster.stop()
        during = probe.post(f"{base}/s/{plan.slug}/check", data=form, allow_redirects=False)
        # Down until the load has felt it: pages come from each worker's copy of the wave,
        # so only a respondent's submit meets the outage, and at the moment it chooses.
        while loadgen.faults_seen() == felt and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.start()

        for thread in load:
            thread.join(timeout=max(1, deadline - time.monotonic() + 30))
        assert not any(thread.is_alive() for thread in load), "the load did not stop"

        # Recovered without a restart: same master, health OK, a new respondent gets
        # through at the first attempt (pre-ping replaced the broken pool connections).
        assert server.poll() is None
        assert len(loadgen.worker_pids(server.pid)) == 2
        health = requests.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        fresh = loadgen.Respondent(base, plan, retry=False).run()
        assert fresh.confirmed, fresh.error
        outcomes.append(fresh)

        # The submission sent during the outage was not stored and not lost: the 503 "not
        # saved, try again" page keeps the form (same idempotency key), its answers are still
        # in the respondent's sealed draft, and sending the same form again stores it once.
        assert during.status_code == 503 and loadgen.NOT_SAVED in during.text, during.status_code
        again = probe.post(f"{base}/s/{plan.slug}/check", data=form, allow_redirects=False)
        assert again.status_code == 303
        assert loadgen.DONE in probe.get(f"{base}/s/{plan.slug}/done").text
    finally:
        loadgen.stop_gunicorn(server)

    released_app = create_app({"SQLALCHEMY_DATABASE_URI": cluster.url, "SECRET_KEY": secret})
    with released_app.app_context():  # the rest, as the daily `survey release --all` would
        release_held(force=True)
        db.session.remove()
        db.engine.dispose()
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                text("SELECT value, count(*) FROM answer WHERE question_id = :q GROUP BY value"),
                {"q": plan.text_field},
            ).all()
        )
        responses = connection.execute(text("SELECT count(*) FROM response")).scalar_one()
        still_held = connection.execute(text("SELECT count(*) FROM held_submission")).scalar_one()
    engine.dispose()
    assert still_held == 0

    done = [o for o in outcomes if o.confirmed]
    failed = [o.error for o in outcomes if not o.confirmed]
    assert not failed, f"respondents that never got through: {failed[:5]}"
    assert len(done) == len(outcomes) >= 15
    assert sum(o.retried_errors + o.not_saved_pages for o in outcomes) > 0, (
        "the faults were not felt"
    )
    lost = [(o.marker, stored.get(o.marker, 0)) for o in done if stored.get(o.marker) != 1]
    assert not lost, f"acknowledged but not stored exactly once (marker, times stored): {lost}"
    assert stored.get(probe_marker) == 1
    assert all(count == 1 for count in stored.values()), "a submission was stored twice"
    assert responses == len(stored) == len(done) + 1
    logged = log.read_text(errors="replace")
    assert plan.slug in logged or "/s/" in logged  # access log is on ...
    assert "marker " not in logged and "127.0.0.1 -" not in logged  # ... and says nothing personal
    assert "rate limits count per worker" in logged  # memory:// with 2 workers is flagged

    # The answers are in the respondent's sealed draft, in the database that is down: the
    # "not saved" page cannot show them, but keeps the form to send them again.
    assert "Your answers so far are kept" in during.text and form["submission_key"] in during.text
