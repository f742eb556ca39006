"""A small threaded load generator for Improvement Pulse, shared by ``benchmarks/serving.py``
and ``tests/faults/test_faults.py``: it prepares an open-wave survey in a database, starts
the app under gunicorn on a free loopback port, and drives respondents through the survey
over HTTP the way a browser without JavaScript would (start page, every question page,
check page, POST submit with CSRF token and idempotency key, confirmation page).

Everything stays on 127.0.0.1 and every run is bounded by a count and a deadline.
"""

from __future__ import annotations

import html
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
INSTRUMENT = "resident-perception"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_KEY = re.compile(r'name="submission_key" type="hidden" value="([^"]+)"')
_PREPARED = re.compile(r'name="prepared" type="hidden" value="([^"]+)"')
_jitter = random.Random(2026)  # think times: reproducible, and not a security matter
NOT_SAVED = "Your answers were not saved, please try again"
DONE = "Answers sent"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Plan:
    slug: str
    pages: list[tuple[int, list[str]]]  # page number, field ids
    answers: dict[str, str]
    text_field: str


def prepare(database_url: str) -> Plan:
    """Migrate ``database_url``, load the instruments and open a wave of the resident
    survey; returns what a respondent needs to answer it."""
    import datetime as dt

    from flask_migrate import upgrade
    from sqlalchemy import select

    from instruments import load_definitions
    from survey_app import create_app
    from survey_app.definitions import load_instruments
    from survey_app.extensions import db
    from survey_app.models import InstrumentVersion, Wave, WaveMode
    from survey_app.survey.forms import pages_of

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
        definitions = load_definitions()
        load_instruments(definitions)
        instrument = definitions.instrument(INSTRUMENT)
        version = db.session.scalar(
            select(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == INSTRUMENT)
            .order_by(InstrumentVersion.id.desc())
            .limit(1)
        )
        today = dt.date.today()
        wave = Wave(
            label="2026-LOAD",
            instrument_version=version,
            audience=version.audience,
            mode=WaveMode.OPEN,
            opens_on=today - dt.timedelta(days=3),
            closes_on=today + dt.timedelta(days=10),
        )
        db.session.add(wave)
        db.session.commit()
        slug = wave.slug
        answers: dict[str, str] = {}
        text_field = ""
        for i, question in enumerate(instrument.questions):
            if question.type == "scale":
                answers[question.id] = str(i % instrument.scale_of(question).k + 1)
            elif question.type == "choice":
                answers[question.id] = question.choices[i % len(question.choices)]
            else:
                text_field = text_field or question.id
                answers[question.id] = "placeholder"
        for j, attribute in enumerate(instrument.attributes):
            answers[attribute.id] = attribute.choices[j % len(attribute.choices)]
        pages = [(p.number, list(p.field_ids)) for p in pages_of(instrument)]
        db.session.remove()
        db.engine.dispose()
    return Plan(slug=slug, pages=pages, answers=answers, text_field=text_field)


def new_marker() -> str:
    """A unique free-text answer that redaction leaves alone (letters only)."""
    return "marker " + "".join(secrets.choice("bcdfghjkmnpqrstvwxz") for _ in range(16))


# --------------------------------------------------------------------------- gunicorn


# One server secret for every server this process starts on a database: held submissions
# are sealed under it, and a later server (the next level of a benchmark) must open them.
_SECRET_KEY = secrets.token_hex(32)


def gunicorn_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": _SECRET_KEY,
            "PULSE_CONFIG": "production",
            "SESSION_COOKIE_SECURE": "false",
            "SURVEY_SUBMIT_RATE_LIMIT": "1000000 per minute",
            "SURVEY_WAVE_SUBMIT_RATE_LIMIT": "1000000 per minute",
            "GUNICORN_ACCESSLOG": "none",
            "PULSE_LOGLEVEL": "WARNING",
            "PULSE_INSTANCE_PATH": str(REPO / "instance"),
        }
    )
    env.update(extra)
    return env


def start_gunicorn(
    database_url: str,
    *,
    workers: int = 2,
    threads: int = 4,
    app: str | None = None,
    log: Path | None = None,
    **extra: str,
):
    """gunicorn with ``gunicorn.conf.py`` on a free loopback port; returns (process, base
    URL) once ``/healthz`` (or ``/bare`` for a baseline app) answers."""
    port = free_port()
    env = gunicorn_env(
        database_url,
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        **extra,
    )
    command = [sys.executable, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py")]
    if app:
        command.append(app)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True
        )
    finally:
        if log:
            out.close()
    base = f"http://127.0.0.1:{port}"
    probe = "/bare" if app else "/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} (see {log})")
        try:
            if requests.get(base + probe, timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_gunicorn(process)
    raise RuntimeError("gunicorn did not become healthy within 60 s")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def worker_pids(master_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
                found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int) -> float | None:
    """A process's user + system CPU so far (``/proc/<pid>/stat``), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU spent by kind of process while something ran: the app's and the baseline's
    gunicorn workers, the PostgreSQL backends serving the benchmark's own database (by
    ``pg_stat_activity``, so other databases' work on a shared server is not counted; the
    server's WAL writer and checkpointer are not either), and this client process.

    ``measure(run)`` snapshots before and after ``run()`` and returns (its result, CPU
    seconds by kind); a backend that connected meanwhile counts from zero."""

    KINDS = ("app", "baseline", "postgres", "client")

    def __init__(self, app_master: int, baseline_master: int, database_url: str) -> None:
        self.app_master, self.baseline_master = app_master, baseline_master
        url = make_url(database_url)
        self.database = url.database if url.get_backend_name() == "postgresql" else None
        self.admin = (
            create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            if self.database
            else None
        )

    def _backends(self) -> list[int]:
        if self.admin is None:
            return []
        with self.admin.connect() as connection:
            return list(
                connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                    {"name": self.database},
                ).scalars()
            )

    def snapshot(self) -> dict:
        kinds = {
            **dict.fromkeys(worker_pids(self.app_master), "app"),
            **dict.fromkeys(worker_pids(self.baseline_master), "baseline"),
            **dict.fromkeys(self._backends(), "postgres"),
        }
        taken = {pid: (kind, cpu_seconds(pid)) for pid, kind in kinds.items()}
        mine = os.times()
        taken["client"] = ("client", mine.user + mine.system)
        return taken

    def measure(self, run, settle: float = 0.0):
        before = self.snapshot()
        result = run()
        time.sleep(settle)  # work the run caused after its last reply (releases) counts too
        after = self.snapshot()
        spent = dict.fromkeys(self.KINDS, 0.0)
        for key, (kind, seconds) in after.items():
            if seconds is not None:
                spent[kind] += seconds - (before.get(key, (kind, 0.0))[1] or 0.0)
        return result, spent

    def close(self) -> None:
        if self.admin is not None:
            self.admin.dispose()


# --------------------------------------------------------------------------- respondents


def _hidden(pattern: re.Pattern, page: str) -> str:
    match = pattern.search(page)
    if not match:
        raise ValueError("hidden field missing")
    return html.unescape(match.group(1))


def send_form(page: str) -> dict[str, str]:
    """What a browser posts from a check page's send form: its CSRF token, idempotency key
    and, when the page has one, the prepared submission."""
    form = {"csrf_token": _hidden(_CSRF, page), "submission_key": _hidden(_KEY, page)}
    prepared = _PREPARED.search(page)
    if prepared:
        form["prepared"] = html.unescape(prepared.group(1))
    return form


@dataclass
class Outcome:
    marker: str
    confirmed: bool = False
    error: str | None = None
    timings: dict[str, list[float]] = field(default_factory=dict)
    not_saved_pages: int = 0  # 503 "not saved, try again" pages seen at submit
    not_saved_kept_answers: int = 0  # ... of which showed the answers again
    retried_errors: int = 0  # 5xx pages or connection errors retried


_faults_lock = threading.Lock()
_faults_seen = 0


def faults_seen() -> int:
    """How many failures (retried errors, "not saved" pages) respondents of this process
    have met so far: lets a fault test keep a fault going until the load has felt it."""
    with _faults_lock:
        return _faults_seen


def _felt_a_fault() -> None:
    global _faults_seen
    with _faults_lock:
        _faults_seen += 1


def http_session() -> requests.Session:
    """A keep-alive HTTP client for loopback load. It does not read proxy settings from the
    environment: requests would otherwise scan the whole environment on every request, and
    twice on a redirect (a submit), which costs the client more than the server's work."""
    http = requests.Session()
    http.trust_env = False
    return http


class Respondent:
    """One respondent answering the survey once. With ``retry``, server errors and
    connection errors are retried (same form, same idempotency key) until ``deadline``, as
    a person pressing the button again would; without it the first failure ends the run.
    ``think`` seconds (on average; uniformly 0.5 to 1.5 times it) pass before every request
    after the first, as a person reads a page before answering it; 0 sends at once."""

    def __init__(
        self,
        base: str,
        plan: Plan,
        *,
        retry: bool = False,
        deadline: float | None = None,
        timeout: float = 30,
        think: float = 0.0,
    ):
        self.base, self.plan, self.retry, self.timeout = base, plan, retry, timeout
        self.deadline = deadline or time.monotonic() + 300
        self.think = think
        self.http = http_session()
        self._requests = 0

    def _call(self, outcome: Outcome, step: str, method: str, path: str, **kwargs):
        if self.think and self._requests:
            time.sleep(self.think * (0.5 + _jitter.random()))
        self._requests += 1
        while True:
            started = time.perf_counter()
            try:
                response = self.http.request(
                    method, self.base + path, timeout=self.timeout, allow_redirects=False, **kwargs
                )
            except requests.RequestException as exc:
                response, failure = None, type(exc).__name__
            else:
                failure = None if response.status_code < 500 else f"HTTP {response.status_code}"
                outcome.timings.setdefault(step, []).append(time.perf_counter() - started)
            if failure is None or (
                step == "submit" and response is not None and response.status_code == 503
            ):
                return response
            if not self.retry or time.monotonic() > self.deadline:
                raise RuntimeError(f"{step}: {failure}")
            outcome.retried_errors += 1
            _felt_a_fault()
            time.sleep(0.2)

    def answer_pages(self, outcome: Outcome) -> None:
        """The start page and every question page, answered: the answers are then in this
        respondent's sealed draft, ready for the check page."""
        answers = dict(self.plan.answers)
        if self.plan.text_field:
            answers[self.plan.text_field] = outcome.marker
        slug = self.plan.slug
        self._expect(self._call(outcome, "start", "GET", f"/s/{slug}"), 200)
        for number, fields in self.plan.pages:
            page = self._call(outcome, "page", "GET", f"/s/{slug}/{number}")
            self._expect(page, 200)
            data = {"csrf_token": _hidden(_CSRF, page.text)}
            data.update({f: answers[f] for f in fields if f in answers})
            self._expect(
                self._call(outcome, "page_post", "POST", f"/s/{slug}/{number}", data=data), 303
            )

    def check_form(self, outcome: Outcome) -> dict[str, str]:
        """GET the check page; the submit form it carries (CSRF token, idempotency key)."""
        check = self._call(outcome, "check", "GET", f"/s/{self.plan.slug}/check")
        self._expect(check, 200)
        return send_form(check.text)

    def run(self, marker: str | None = None) -> Outcome:
        outcome = Outcome(marker=marker or new_marker())
        slug = self.plan.slug
        try:
            self.answer_pages(outcome)
            check = self._call(outcome, "check", "GET", f"/s/{slug}/check")
            self._expect(check, 200)
            page_text = check.text
            while True:
                form = send_form(page_text)
                sent = self._call(outcome, "submit", "POST", f"/s/{slug}/check", data=form)
                if sent.status_code != 503:
                    break
                outcome.not_saved_pages += 1
                _felt_a_fault()
                if NOT_SAVED in sent.text and outcome.marker in sent.text:
                    outcome.not_saved_kept_answers += 1
                if not self.retry or time.monotonic() > self.deadline:
                    raise RuntimeError("submit: not saved (503)")  # noqa: TRY301 - recorded as the outcome below
                page_text = sent.text
                time.sleep(0.2)
            self._expect(sent, 303)
            done = self._call(outcome, "done", "GET", f"/s/{slug}/done")
            self._expect(done, 200)
            if DONE not in done.text:
                raise RuntimeError("done: no confirmation on the page")  # noqa: TRY301 - recorded as the outcome below
            outcome.confirmed = True
        except Exception as exc:  # noqa: BLE001 - every failure is a recorded outcome
            outcome.error = str(exc)[:200]
        finally:
            self.http.close()
        return outcome

    @staticmethod
    def _expect(response, status: int) -> None:
        if response.status_code != status:
            raise RuntimeError(f"expected HTTP {status}, got {response.status_code}")
