"""Who responded to a wave: group sizes (uploaded per audience, or residents' raking margins)
against the wave's respondents, computed by :mod:`analysis.representation` with the other
results (:func:`survey_app.results.compute_results`) and stored with them as the
``who_responded`` table, so pages read it rather than counting per view; viewers read the
published copy of a wave's rows, as of every other table.

Issue 14 (anonymity): during fieldwork a wave shows only the total received; the table by
group is shown only once the wave has closed and every submission has been released, and
goes through the one suppression function like every other figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import delete, select

from analysis.representation import FIGURE_COLUMNS
from instruments import Instrument

from .definitions import current_definitions
from .extensions import db
from .models import AnalysisResult, GroupSize, PopulationMargin, Wave
from .response_counts import ShownCount, fieldwork_over, min_n, wave_total
from .results import table
from .uploads import CsvUploadError, read_csv_upload

MAX_SIZE_ROWS = 5_000
SIZE_COLUMNS = ("attribute", "value", "size")


@dataclasses.dataclass(frozen=True)
class WhoResponded:
    """What may be shown of a wave's respondents: the total received, and once fieldwork is
    over the table by group (empty when the audience has no sizes)."""

    wave: Wave
    total: ShownCount
    live: bool
    table: pd.DataFrame
    min_n: int
    # the stored results the table comes from, whether the data have changed since, and
    # whether the audience has sizes now (a table missing while it has: not computed yet)
    result: AnalysisResult | None = None
    stale: bool = False
    has_sizes: bool = False


def audience_sizes(audience: str) -> pd.DataFrame:
    """The audience's group sizes (``attribute, value, size``): uploaded sizes, and for any
    attribute without them the raking margins (residents by age band, ward...)."""
    uploaded = [
        (g.attribute, g.value, float(g.size))
        for g in db.session.scalars(
            select(GroupSize)
            .where(GroupSize.audience == audience)
            .order_by(GroupSize.attribute, GroupSize.id)
        )
    ]
    have = {row[0] for row in uploaded}
    margins = [
        (m.variable, m.category, float(m.population))
        for m in db.session.scalars(
            select(PopulationMargin)
            .where(PopulationMargin.audience == audience)
            .order_by(PopulationMargin.variable, PopulationMargin.id)
        )
        if m.variable not in have
    ]
    return pd.DataFrame(uploaded + margins, columns=list(SIZE_COLUMNS))


def who_responded_for_wave(
    wave: Wave, result: AnalysisResult | None, stale: bool = False
) -> WhoResponded:
    """The "who responded" figures of ``wave`` for its page and the report's methodology
    section: the total only while fieldwork goes on, after it the wave's rows of the stored
    ``who_responded`` table of ``result`` (already suppressed; empty when the results have
    none, e.g. sizes uploaded since they were computed, which makes them ``stale``)."""
    threshold = min_n(wave.audience)
    total = wave_total(wave)
    if not fieldwork_over(wave):
        return WhoResponded(wave, total, True, pd.DataFrame(), threshold, result, stale)
    stored = table(result, "who_responded")
    if not stored.empty:
        stored = stored[
            (stored["instrument"] == wave.instrument_id) & (stored["wave"] == wave.label)
        ].reset_index(drop=True)
        # stored as JSON, blanks as null: a column of blanks alone would not be numeric
        stored[FIGURE_COLUMNS] = stored[FIGURE_COLUMNS].astype(float)
    has_sizes = not stored.empty or not audience_sizes(wave.audience).empty
    return WhoResponded(wave, total, False, stored, threshold, result, stale, has_sizes)


# --------------------------------------------------------------------------- uploads


def _attributes_of(audience: str) -> dict[str, list[str]]:
    """The attributes the audience's surveys ask, with their choices (the values respondents
    can give, so sizes must use the same)."""
    found: dict[str, list[str]] = {}
    instruments: Iterable[Instrument] = current_definitions().instruments.values()
    for instrument in instruments:
        if instrument.audience == audience:
            for attribute in instrument.attributes:
                found.setdefault(attribute.id, [])
                found[attribute.id] += [
                    c for c in attribute.choices if c not in found[attribute.id]
                ]
    return found


def check_sizes(audience: str, data: bytes) -> tuple[list[tuple[str, str, int]], list[str]]:
    """The rows of an uploaded group-size file, or every problem with it (row by row)."""
    try:
        upload = read_csv_upload(data, MAX_SIZE_ROWS, lower_headers=True)
    except CsvUploadError as exc:
        return [], [exc.problem]
    missing = [c for c in SIZE_COLUMNS if c not in upload.headers]
    if missing:
        return [], [
            f"The file needs the columns attribute, value and size on its first row "
            f"(missing: {', '.join(missing)})"
        ]
    known = _attributes_of(audience)
    if not known:
        return [], [f"No survey of {audience} asks an attribute, so no sizes can be matched"]
    rows: list[tuple[str, str, int]] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, values in upload.rows:
        attribute = (values.get("attribute") or "").strip()
        value = (values.get("value") or "").strip()
        size_text = (values.get("size") or "").strip().replace(",", "")
        if attribute not in known:
            problems.append(
                f"Row {number}: '{attribute[:40]}' is not an attribute the {audience} surveys ask "
                f"(use one of {', '.join(sorted(known))})"
            )
            continue
        if value not in known[attribute]:
            problems.append(
                f"Row {number}: '{value[:60]}' is not an answer to {attribute} "
                f"(use one of {', '.join(known[attribute])})"
            )
            continue
        if not size_text.isdigit() or int(size_text) < 1:
            problems.append(
                f"Row {number}: the size must be a whole number of people, at least 1, "
                f"not '{size_text[:20]}'"
            )
            continue
        if (attribute, value) in seen:
            problems.append(
                f"Row {number}: {attribute} = {value} is already on row {seen[(attribute, value)]}"
            )
            continue
        seen[(attribute, value)] = number
        rows.append((attribute, value, int(size_text)))
    if not rows and not problems:
        problems.append("The file has no rows of sizes")
    return rows, problems


def store_sizes(audience: str, rows: list[tuple[str, str, int]], user_id: int | None) -> int:
    """Replace the audience's sizes of every attribute in ``rows`` (in the caller's
    transaction, so all or nothing)."""
    attributes = sorted({attribute for attribute, _, _ in rows})
    db.session.execute(
        delete(GroupSize).where(GroupSize.audience == audience, GroupSize.attribute.in_(attributes))
    )
    db.session.add_all(
        GroupSize(audience=audience, attribute=a, value=v, size=s, uploaded_by_id=user_id)
        for a, v, s in rows
    )
    return len(rows)
