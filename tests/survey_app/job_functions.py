"""Module-level functions the job tests run in the background (a worker imports them by name)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from survey_app.extensions import db
from survey_app.models import AuditEntry


def record_run(label: str, *, extra: str = "") -> None:
    """Leave evidence in the database of having run, and in which thread."""
    db.session.add(
        AuditEntry(
            action="test job ran",
            detail={"label": label, "extra": extra, "thread": threading.current_thread().name},
        )
    )


def fail(message: str) -> None:
    raise ValueError(message)


def wait_for_file(path: str, label: str = "waited") -> None:
    """Block until ``path`` exists (at most 60 s), then record the run."""
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)
    record_run(label)
