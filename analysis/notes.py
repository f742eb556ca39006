"""Notes: what the analysis could not do, or did differently, for one unit of the results.

A unit is an (instrument, audience, wave) and optionally a level and id within it. A failure
in one unit never stops the others: the unit gets a note (the ``notes`` table and
``notes.csv``) and its figures are blank.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass

import pandas as pd

NOTE_COLUMNS = ["instrument", "audience", "wave", "level", "id", "note"]


@dataclass(frozen=True)
class Note:
    """One row of ``notes.csv``; ``wave``, ``level`` and ``id`` are blank when the note
    covers every wave, level or id of the unit."""

    instrument: str
    audience: str
    wave: str | None
    note: str
    level: str | None = None
    id: str | None = None

    def __str__(self) -> str:
        where = " ".join(part for part in (self.instrument, self.wave, self.level, self.id) if part)
        return f"{where}: {self.note}"

    def row(self) -> tuple:
        instrument, audience, wave, note, level, identifier = astuple(self)
        return instrument, audience, wave, level, identifier, note


def notes_table(notes: Iterable[Note]) -> pd.DataFrame:
    """The notes as a table with :data:`NOTE_COLUMNS`, in the order they were made."""
    rows = [note.row() for note in notes]
    return pd.DataFrame(rows, columns=NOTE_COLUMNS, dtype=object)
