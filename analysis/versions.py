"""Instrument versions in the analysis: which definition scores which response, and which
changes between waves cannot be tested because a question's meaning changed.

Each response is scored with the definition whose version hash equals its ``version``. With
a single definition of an instrument, every response is scored with it (hand-made files
with a blank or other version keep working, and a note lists those versions). A wave fields
one version: the analysis never pools two versions into one wave.

Comparability uses :func:`instruments.diff_instruments`: a change of wording, type, scale or
reverse coding under one question id breaks the item; an index or outcome breaks when its
item set changes or the coding of any of its items changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import pandas as pd

from instruments import INDEXES, Instrument, diff_instruments

from .notes import Note
from .responses import describe_rows

FIELD_WORDS = {
    "text": "wording",
    "type": "question type",
    "scale": "scale",
    "reverse": "reverse coding",
    "choices": "choices",
}


@dataclass(frozen=True)
class VersionGroup:
    """The rows of one instrument answered to one version, and the definition scoring them."""

    instrument: Instrument
    version: str
    rows: pd.DataFrame


def version_groups(
    rows: pd.DataFrame, versions: Mapping[str, Instrument]
) -> tuple[list[VersionGroup], list[Note]]:
    """Split one instrument's rows by the version each answered (see the module docstring).

    Raises
    ------
    ValueError
        Several definitions and a response that matches none (naming the instrument, the
        versions and the rows), or a wave holding answers to two versions.
    """
    first = next(iter(versions.values()))
    notes: list[Note] = []
    answered = (
        rows["version"].astype(object)
        if "version" in rows
        else pd.Series(None, index=rows.index, dtype=object)
    )
    if len(versions) == 1:
        ((version, instrument),) = versions.items()
        other = answered[answered.ne(version) | answered.isna()]
        if len(other):
            labels = sorted({"blank" if pd.isna(v) else str(v)[:12] for v in other})
            notes.append(
                Note(
                    instrument.id,
                    instrument.audience,
                    None,
                    f"{len(other)} responses with version {', '.join(labels)} scored with the one "
                    f"definition in the folder (version {version[:12]})",
                )
            )
        return [VersionGroup(instrument, version, rows)], notes
    unknown = rows.index[~answered.isin(list(versions))]
    if len(unknown):
        raise ValueError(
            f"responses: instrument {first.id} has versions {', '.join(v[:12] for v in versions)} in the "
            f"definitions folder, but {describe_rows(unknown)} answered none of them "
            f"(version {', '.join(sorted({str(v)[:12] for v in answered[unknown]}))})"
        )
    per_wave = answered.groupby(rows["wave"].astype(str)).nunique()
    mixed = per_wave.index[per_wave > 1]
    if len(mixed):
        raise ValueError(
            f"responses: wave {mixed[0]} of instrument {first.id} holds answers to several versions; "
            "a wave fields one version and the analysis never pools two versions into one wave"
        )
    groups = [
        VersionGroup(versions[str(v)], str(v), part)
        for v, part in rows.groupby(answered, sort=False)
    ]
    return groups, notes


def _items_of(instrument: Instrument, level: str, identifier: str) -> set[str]:
    questions = (
        instrument.index_questions(identifier)
        if level == "index"
        else instrument.outcome_questions(identifier)
    )
    return {q.id for q in questions}


def breaks(groups: Sequence[VersionGroup], rank: Mapping[str, int]) -> pd.DataFrame:
    """The changes between consecutive waves (of one instrument) that are not comparable.

    Returns a table ``instrument, level, id, wave_from, wave_to, note`` with one row per
    item, index or outcome whose meaning differs between the versions the two waves fielded.
    """
    wave_version = {str(w): g for g in groups for w in g.rows["wave"].astype(str).unique()}
    waves = sorted(wave_version, key=lambda w: rank.get(w, -1))
    rows = []
    for before, after in pairwise(waves):
        old, new = wave_version[before].instrument, wave_version[after].instrument
        if wave_version[before].version == wave_version[after].version:
            continue
        diff = diff_instruments(old, new)
        between = f"between versions {wave_version[before].version[:8]} and {wave_version[after].version[:8]}"
        broken = {c.id: c for c in diff.changed if c.breaking}
        for change in broken.values():
            fields = (
                ", ".join(FIELD_WORDS.get(f, f) for f in change.fields if f in FIELD_WORDS)
                or "meaning"
            )
            rows.append(
                (
                    "item",
                    change.id,
                    f"not comparable: {fields} of {change.id} changed {between}",
                    before,
                    after,
                )
            )
        units = [("index", i) for i in INDEXES]
        units += [
            ("outcome", o)
            for o in dict.fromkeys(
                o for q in (*old.scale_questions, *new.scale_questions) for o in q.outcomes
            )
        ]
        for level, identifier in units:
            items_old, items_new = (
                _items_of(old, level, identifier),
                _items_of(new, level, identifier),
            )
            if not items_old or not items_new:
                continue
            if items_old != items_new:
                added, removed = sorted(items_new - items_old), sorted(items_old - items_new)
                what = "; ".join(
                    part
                    for part in (
                        f"added {', '.join(added)}" if added else "",
                        f"removed {', '.join(removed)}" if removed else "",
                    )
                    if part
                )
                rows.append(
                    (
                        level,
                        identifier,
                        f"not comparable: its questions changed {between} ({what})",
                        before,
                        after,
                    )
                )
            elif items_old & set(broken):
                recoded = ", ".join(sorted(items_old & set(broken)))
                rows.append(
                    (
                        level,
                        identifier,
                        f"not comparable: the coding of {recoded} changed {between}",
                        before,
                        after,
                    )
                )
    instrument_id = groups[0].instrument.id if groups else ""
    return pd.DataFrame(
        [
            (instrument_id, level, identifier, wave_from, wave_to, note)
            for level, identifier, note, wave_from, wave_to in rows
        ],
        columns=["instrument", "level", "id", "wave_from", "wave_to", "note"],
    )
