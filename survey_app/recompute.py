"""Recomputing the stored results as a background job (``survey_app.jobs``), never inside a
request: the "Recompute" button, waves closing and ``survey release`` ask for it here, and
pages read how it went. At most one computation runs at a time, in every process together
(the job key ``results``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .audit import record
from .extensions import db
from .jobs import JobState, enqueue, job_state, latest_job, run_here, runs_in_worker
from .models import AnalysisResult
from .results import compute_results, latest_results

RESULTS_JOB_KEY = "results"
# A computation that finds the data changed while it ran computes again, up to this many
# times in all, so a wave closed during a run is not left out until someone presses again.
MAX_ROUNDS = 3

log = logging.getLogger("survey_app.recompute")


def request_recompute(only_if_stale: bool = False, requested_by: int | None = None) -> str:
    """Queue a recomputation of the results (or return the id of the one already queued or
    running). ``only_if_stale`` skips it when the stored results are up to date by the time
    it runs. Commits the current session (see :func:`survey_app.jobs.enqueue`)."""
    return enqueue(refresh_results, only_if_stale, requested_by, key=RESULTS_JOB_KEY)


def recompute_from_command(only_if_stale: bool = True) -> JobState | None:
    """For commands (e.g. the daily ``survey release``): queue the computation when a worker
    process runs jobs (RQ), else run it here, since a command's process ends before a worker
    thread of its own would finish. Returns the job's state afterwards."""
    if runs_in_worker():
        job_id = request_recompute(only_if_stale)
    else:
        job_id = run_here(refresh_results, only_if_stale, None, key=RESULTS_JOB_KEY)
    return job_state(job_id)


def compute_here() -> JobState | None:
    """Compute now in this process (``flask results``), unless a computation is already
    queued or running anywhere; returns the job's state afterwards (still active then)."""
    return job_state(run_here(refresh_results, False, None, key=RESULTS_JOB_KEY))


def refresh_results(only_if_stale: bool = False, requested_by: int | None = None) -> None:
    """The job: compute and store the results, again while the data changed during the run
    (at most ``MAX_ROUNDS`` computations), each recorded in the audit log."""
    for round_ in range(MAX_ROUNDS):
        # The staleness check reads every response and answer (seconds at a million
        # responses), so it is made only where its answer is used: not before a first
        # computation that was asked for unconditionally.
        if only_if_stale or round_ > 0:
            latest, stale = latest_results()
            if latest is not None and not stale:
                db.session.commit()
                return
        db.session.commit()  # end the read: on SQLite an open transaction holds the write lock
        stored = compute_results()
        record(
            "results recomputed", user_id=requested_by, responses=stored.responses, round=round_ + 1
        )
        db.session.commit()
        log.info("results %s computed from %s responses", stored.id, stored.responses)


@dataclass(frozen=True)
class RecomputeStatus:
    """What a page says about the results: the newest stored ones, whether the data changed
    since, and the newest computation job (running, or how it ended)."""

    result: AnalysisResult | None
    stale: bool
    job: JobState | None

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.active

    @property
    def failed(self) -> bool:
        """The newest computation failed (and no results were stored after it was asked for)."""
        if self.job is None or self.job.status != "failed":
            return False
        return self.result is None or self.result.computed_at < self.job.enqueued_at


def recompute_status() -> RecomputeStatus:
    result, stale = latest_results()
    return RecomputeStatus(result=result, stale=stale, job=latest_job(RESULTS_JOB_KEY))
