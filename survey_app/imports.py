"""Importing an uploaded file (an invitation list, a batch of typed-up returns) as a
background job (``survey_app.jobs``), once.

A request only records the upload and queues the job, so a 100,000-row invitation list or a
20,000-row batch of returns never runs inside a request (gunicorn's timeout is 30 s). Each
upload has an idempotency key: the upload form carries a random key, and the import's key is
that key with the file's SHA-256. Sending the same form with the same file again (a double
click, a retry after a time-out, the browser's Back and resend) finds the import already
recorded and shows how it went instead of importing twice; the ``upload_import`` row's unique
key makes that hold across processes. The job writes its outcome (rows stored, or every
problem found, with nothing stored) in the same transaction as the rows themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .jobs import JobState, enqueue, job_state
from .models import ImportStatus, UploadImport, Wave


class ImportRefused(ValueError):
    """The file has problems; nothing from it is stored. ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Importer:
    """How one kind of upload is imported, in three steps, so that no database transaction is
    open while a long file is checked (on SQLite a transaction holds the write lock):

    ``read(wave)``
        what checking needs from the database (e.g. the instrument, addresses already
        invited), as plain objects;
    ``check(read, data)``
        the whole file validated without the database: what to store, or
        :class:`ImportRefused` naming every problem;
    ``store(wave, checked, user_id)``
        adds the rows to the session (the caller commits) and returns how many.
    """

    read: Callable[[Wave], Any]
    check: Callable[[Any, bytes], Any]
    store: Callable[[Wave, Any, int | None], int]


# Registered by the programme blueprint's modules, which own each kind of file.
IMPORTERS: dict[str, Importer] = {}


def register_importer(kind: str, importer: Importer) -> None:
    IMPORTERS[kind] = importer


def new_form_key() -> str:
    """The idempotency key an upload form carries (a hidden field)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class ImportState:
    """How an upload's import stands, for its page."""

    id: str
    kind: str
    wave_id: int
    status: str  # queued | imported | refused | failed (the job ended without an outcome)
    problems: list[str]
    imported: int
    job: JobState | None
    repeated: bool = False  # found for a form and file sent before, not started by this request

    @property
    def done(self) -> bool:
        return self.status != "queued"

    @property
    def failure(self) -> str:
        """What to tell the person when the job ended without an outcome."""
        reason = f" ({self.job.error})" if self.job is not None and self.job.error else ""
        return (
            f"The import did not finish{reason}. Nothing from the file was stored; import it again."
        )


def start_import(
    kind: str, wave: Wave, data: bytes, form_key: str | None, user_id: int | None
) -> ImportState:
    """Record the upload and queue its import, or find the import of the same form and file
    already recorded; returns how it stands (done already when jobs run at once, or the job
    was quick). Commits the session."""
    if kind not in IMPORTERS:
        raise ValueError(f"no importer for {kind!r}")
    form_key = (form_key or "").strip()[:64] or new_form_key()  # no key sent: never deduplicated
    key = f"{kind}:{wave.id}:{form_key}:{hashlib.sha256(data).hexdigest()}"
    existing = db.session.scalar(select(UploadImport.id).where(UploadImport.key == key))
    repeated = existing is not None
    if existing is None:
        upload = UploadImport(key=key, kind=kind, wave_id=wave.id, problems=[])
        db.session.add(upload)
        try:
            db.session.commit()
        except IntegrityError:  # the same form and file, recorded by another request just now
            db.session.rollback()
            existing = db.session.scalar(select(UploadImport.id).where(UploadImport.key == key))
            repeated = True
        else:
            existing = upload.id
            job_id = enqueue(run_import, existing, data, user_id, key=f"import:{existing}")
            db.session.execute(
                update(UploadImport).where(UploadImport.id == existing).values(job_id=job_id)
            )
            db.session.commit()
    state = import_state(str(existing))
    if state is None:
        raise LookupError(f"upload {existing} vanished (its wave was deleted)")
    return dataclasses.replace(state, repeated=repeated)


def run_import(upload_id: str, data: bytes, user_id: int | None) -> None:
    """The job: check the file, then store it and its outcome in one transaction (or record
    every problem, with nothing stored)."""
    upload = db.session.get(UploadImport, upload_id)
    wave = db.session.get(Wave, upload.wave_id) if upload is not None else None
    if upload is None or wave is None or upload.status is not ImportStatus.QUEUED:
        return  # deleted with its wave, or already done
    importer, wave_id = IMPORTERS[upload.kind], wave.id
    facts = importer.read(wave)
    db.session.commit()  # checking a long file takes a while: hold no lock meanwhile
    try:
        checked = importer.check(facts, data)
        wave = db.session.get(Wave, wave_id)
        if wave is None:
            return
        count = importer.store(wave, checked, user_id)
    except ImportRefused as refused:
        db.session.rollback()
        _finish(upload_id, ImportStatus.REFUSED, problems=refused.problems)
        return
    _finish(upload_id, ImportStatus.IMPORTED, imported=count)  # in the rows' transaction


def _finish(
    upload_id: str, status: ImportStatus, *, problems: list[str] | None = None, imported: int = 0
) -> None:
    """Write the outcome, once: only an import still queued is finished (and committed)."""
    done = db.session.execute(
        update(UploadImport)
        .where(UploadImport.id == upload_id, UploadImport.status == ImportStatus.QUEUED)
        .values(status=status, problems=problems or [], imported=imported)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()  # finished meanwhile (or deleted): store nothing twice
        return
    db.session.commit()


def import_state(upload_id: str) -> ImportState | None:
    upload = db.session.get(UploadImport, upload_id)
    if upload is None:
        return None
    job = job_state(upload.job_id) if upload.job_id else None
    status = upload.status.value
    if upload.status is ImportStatus.QUEUED and job is not None and job.status == "failed":
        status = "failed"
    return ImportState(
        upload.id,
        upload.kind,
        upload.wave_id,
        status,
        list(upload.problems or []),
        upload.imported,
        job,
    )
