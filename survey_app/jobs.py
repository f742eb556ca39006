"""One background-job service for the whole app: recomputing results, sending e-mails, long
imports. Nothing slow runs inside a request (gunicorn's timeout is 30 s).

``enqueue(func, *args, key=..., **kwargs)`` runs a module-level function in the background,
inside an app context of its own (its own database session), and returns the job's id;
``job_state(id)`` and ``latest_job(key)`` read how it went. The backend is chosen by
configuration (``JOBS_BACKEND``):

``rq``
    RQ on Redis (``JOBS_REDIS_URL``, e.g. ``redis://127.0.0.1:6379/0``; the default backend when
    that is set). Jobs go to the queue ``JOBS_QUEUE`` (default ``pulse``) and run in a worker
    started with ``flask --app survey_app jobs worker`` (or ``rq worker pulse``, which builds
    the app from the environment).
``thread``
    A worker thread in the web process, one job at a time (the default without Redis, as in
    the demo). A job queued in a process that stops is lost; its row then expires (below).
``eager``
    Runs the job at once in the caller's thread, in a new app context (for tests that want
    the result before the next line; the testing configuration's default).

The state of every job is a row of the ``job`` table (not the queue's own bookkeeping), so
every process and every page reads the same thing. A job's ``key`` (e.g. ``"results"``) is
also written to a uniquely constrained column while the job is queued or running: two requests,
in one process or in many, never have two jobs with one key in flight; the second gets the
first one's id. A job still queued or running ``JOBS_TIMEOUT_SECONDS`` (default 3600) after it
was queued is reported as failed (its worker stopped, or none is running) and its key is freed
by the next ``enqueue``.

A job that raises is recorded as failed with a one-line error (the exception's type and
message, never a traceback, since pages show it) and logged with its traceback on the
``survey_app.jobs`` logger. A job's session is committed when it returns.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .config import ConfigError
from .extensions import db
from .models import Job, JobStatus, random_id, utcnow

log = logging.getLogger("survey_app.jobs")

BACKENDS = ("rq", "thread", "eager")
DEFAULT_QUEUE = "pulse"
DEFAULT_TIMEOUT_SECONDS = 3600
_ERROR_LENGTH = 2000
_EXTENSION = "pulse_jobs"


@dataclass(frozen=True)
class JobState:
    """What a page or a caller may know about a job."""

    id: str
    key: str | None
    function: str
    status: str  # queued | running | finished | failed
    error: str | None
    enqueued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def active(self) -> bool:
        """Queued or running: the job has not ended yet."""
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)


# --------------------------------------------------------------------------- public API


def enqueue(func: Callable[..., Any], *args: Any, key: str | None = None, **kwargs: Any) -> str:
    """Run module-level ``func(*args, **kwargs)`` in the background inside an app context;
    return the job id. If a job with the same ``key`` is queued or running, return its id and
    enqueue nothing.

    The job's row must be visible to the worker before it starts, so this commits the current
    database session: call it once the request's own changes are ready to commit. Arguments
    must be picklable for the ``rq`` backend (pass ids, not ORM objects). If the queue cannot
    be reached the job is recorded as failed (and logged) rather than raising, so the page
    says why.

    Raises
    ------
    ValueError
        ``func`` is not a module-level function that a worker process could import.
    """
    return _enqueue_on(_backend(current_app), func, args, kwargs, key)


def run_here(func: Callable[..., Any], *args: Any, key: str | None = None, **kwargs: Any) -> str:
    """Run ``func(*args, **kwargs)`` as a job now, in this process and thread (whatever the
    configured backend), under the same rule as :func:`enqueue`: if a job with ``key`` is
    queued or running anywhere, nothing runs and its id is returned. For commands, which
    have no request to keep short and may have no worker to wait for."""
    return _enqueue_on(_EagerBackend(current_app), func, args, kwargs, key)


def runs_in_worker() -> bool:
    """Whether queued jobs run in a separate worker process (RQ) rather than in this one."""
    return isinstance(_backend(current_app), _RQBackend)


def wait(job_id: str, timeout: float = 60.0, interval: float = 0.1) -> JobState | None:
    """Poll the job's state until it has ended or ``timeout`` seconds have passed; returns the
    last state seen (None for an unknown id). Commits the session between polls."""
    deadline = time.monotonic() + timeout
    while True:
        state = job_state(job_id)
        if state is None or not state.active or time.monotonic() >= deadline:
            return state
        # End the transaction between polls: the next one sees new commits, and on SQLite the
        # worker is not kept waiting for the lock this session's transaction holds.
        db.session.commit()
        time.sleep(interval)


def _enqueue_on(
    backend: _Backend,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    key: str | None,
) -> str:
    path = function_path(func)
    _expire_abandoned(key)
    while True:
        if key is not None:
            running = db.session.scalar(select(Job).where(Job.active_key == key))
            if running is not None:
                job_id = running.id
                db.session.commit()
                return job_id
        job = Job(
            id=random_id(),
            key=key,
            active_key=key,
            function=path,
            status=JobStatus.QUEUED,
            enqueued_at=utcnow(),
        )
        try:
            with db.session.begin_nested():
                db.session.add(job)
        except IntegrityError:
            continue  # another process queued the same key in between: return its job
        job_id = job.id
        db.session.commit()
        break
    try:
        backend.submit(current_app._get_current_object(), job_id, path, args, kwargs)  # type: ignore[attr-defined]
    except Exception as exc:
        log.exception("job %s (%s) could not be queued", job_id, path)
        _finish(job_id, JobStatus.FAILED, f"could not be queued: {describe(exc)}")
    return job_id


def job_state(job_id: str) -> JobState | None:
    """The state of one job, or None if there is no job with that id."""
    job = db.session.get(Job, job_id, populate_existing=True)
    return None if job is None else _state(job)


def latest_job(key: str) -> JobState | None:
    """The most recently queued job with this key, or None if there was none."""
    job = db.session.scalar(
        select(Job)
        .where(Job.key == key)
        .order_by(Job.enqueued_at.desc(), Job.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return None if job is None else _state(job)


def init_app(app: Flask) -> None:
    """Check the jobs configuration and bind a backend to ``app`` (called by ``create_app``)."""
    name = app.config.get("JOBS_BACKEND") or (
        "rq" if app.config.get("JOBS_REDIS_URL") else "thread"
    )
    if name not in BACKENDS:
        raise ConfigError(
            f"JOBS_BACKEND={name!r} is not a job backend; use one of {', '.join(BACKENDS)}"
        )
    if name == "rq" and not app.config.get("JOBS_REDIS_URL"):
        raise ConfigError("JOBS_BACKEND=rq needs JOBS_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
    backend: _Backend = {"rq": _RQBackend, "thread": _ThreadBackend, "eager": _EagerBackend}[name](
        app
    )
    app.extensions[_EXTENSION] = backend


def run_worker(app: Flask, burst: bool = False) -> None:
    """Process the RQ queue in this process (``flask jobs worker``) until stopped, or until
    the queue is empty with ``burst``. Each job runs in this app, without forking."""
    backend = _backend(app)
    if not isinstance(backend, _RQBackend):
        raise ConfigError("`jobs worker` runs RQ jobs: set JOBS_REDIS_URL (and JOBS_BACKEND=rq)")
    from rq import SimpleWorker

    SimpleWorker([backend.queue()], connection=backend.redis()).work(
        burst=burst, with_scheduler=False
    )


def function_path(func: Callable[..., Any]) -> str:
    """``module:name`` of a module-level function; anything a worker could not import by that
    name (a lambda, a nested function, a bound method) is refused."""
    module, name = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    if not module or not name or "." in name or "<" in name:
        raise ValueError(f"jobs run module-level functions only, not {func!r}")
    path = f"{module}:{name}"
    if _resolve(path) is not func:
        raise ValueError(f"{path} does not name {func!r}: jobs run module-level functions only")
    return path


def describe(exc: BaseException) -> str:
    """The one line a page shows for a failure: the exception's type and message."""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_LENGTH else text[: _ERROR_LENGTH - 1] + "…"


# --------------------------------------------------------------------------- running a job


def _execute(job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Run one job in the current app context, recording each step in its row."""
    started = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=utcnow())
    )
    db.session.commit()
    if started.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("job %s (%s) was not queued any more; not run", job_id, path)
        return
    try:
        _resolve(path)(*args, **kwargs)
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, path)
        _finish(job_id, JobStatus.FAILED, describe(exc))
    else:
        _finish(job_id, JobStatus.FINISHED, None)
        log.info("job %s (%s) finished", job_id, path)


def _execute_in(
    app: Flask, job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    # A new app context means a database session of the job's own (Flask-SQLAlchemy scopes
    # sessions to the app context), even when the caller's context is still open.
    with app.app_context():
        try:
            _execute(job_id, path, args, kwargs)
        finally:
            db.session.remove()


def _finish(job_id: str, status: JobStatus, error: str | None) -> None:
    db.session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=status, error=error, finished_at=utcnow(), active_key=None)
    )
    db.session.commit()


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _timeout(app: Flask) -> dt.timedelta:
    return dt.timedelta(
        seconds=float(app.config.get("JOBS_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
    )


def _abandoned_message(app: Flask) -> str:
    minutes = round(_timeout(app).total_seconds() / 60)
    return (
        f"did not finish within {minutes} minutes of being queued: the worker stopped or is "
        "not running"
    )


def _state(job: Job) -> JobState:
    status, error = JobStatus(job.status), job.error
    if status in (JobStatus.QUEUED, JobStatus.RUNNING) and job.enqueued_at < utcnow() - _timeout(
        current_app
    ):
        status, error = JobStatus.FAILED, _abandoned_message(current_app)
    return JobState(
        id=job.id,
        key=job.key,
        function=job.function,
        status=status.value,
        error=error,
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _expire_abandoned(key: str | None) -> None:
    """Free the key of a job that has outlived the timeout, recording why it failed."""
    if key is None:
        return
    cutoff = utcnow() - _timeout(current_app)
    db.session.execute(
        update(Job)
        .where(Job.active_key == key, Job.enqueued_at < cutoff)
        .values(
            status=JobStatus.FAILED,
            error=_abandoned_message(current_app),
            finished_at=utcnow(),
            active_key=None,
        )
    )


# --------------------------------------------------------------------------- backends


def _backend(app: Flask) -> _Backend:
    try:
        return app.extensions[_EXTENSION]
    except KeyError:
        raise RuntimeError("survey_app.jobs.init_app(app) was not called") from None


class _Backend:
    def __init__(self, app: Flask) -> None:
        self.config = app.config

    def submit(
        self, app: Flask, job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        raise NotImplementedError


class _EagerBackend(_Backend):
    def submit(
        self, app: Flask, job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        _execute_in(app, job_id, path, args, kwargs)


class _ThreadBackend(_Backend):
    """One daemon thread per app and process, started on the first job (so a forking server
    starts it in the worker process that needs it, not in the master)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._pending: queue.Queue[tuple[Flask, str, str, tuple[Any, ...], dict[str, Any]]] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(
        self, app: Flask, job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="pulse-jobs", daemon=True)
                self._thread.start()
        self._pending.put((app, job_id, path, args, kwargs))

    def _work(self) -> None:
        while True:
            app, job_id, path, args, kwargs = self._pending.get()
            try:
                _execute_in(app, job_id, path, args, kwargs)
            except Exception:
                log.exception("job %s (%s) could not be run", job_id, path)
            finally:
                self._pending.task_done()

    def wait(self) -> None:
        """Block until every job submitted so far has ended (for tests and shutdown)."""
        self._pending.join()


class _RQBackend(_Backend):
    def redis(self) -> Any:
        from redis import Redis

        return Redis.from_url(self.config["JOBS_REDIS_URL"])

    def queue(self) -> Any:
        from rq import Queue

        return Queue(self.config.get("JOBS_QUEUE") or DEFAULT_QUEUE, connection=self.redis())

    def submit(
        self, app: Flask, job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        timeout = max(1, math.ceil(_timeout(app).total_seconds()))
        self.queue().enqueue_call(
            run_rq_job,
            args=(job_id, path, args, kwargs),
            job_id=job_id,
            timeout=timeout,
            result_ttl=0,
            failure_ttl=timeout,
        )


_standalone_app: Flask | None = None


def run_rq_job(job_id: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """What an RQ worker runs: the job inside this process's app (``flask jobs worker``), or
    in an app built from the environment (a plain ``rq worker``)."""
    global _standalone_app
    if has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        if _standalone_app is None:
            from . import create_app

            _standalone_app = create_app()
        app = _standalone_app
    _execute_in(app, job_id, path, args, kwargs)
