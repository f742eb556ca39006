"""The rules of the report's written summary (survey_app.reports.summary), on scorecard rows
made by hand: what is named, in which order, and that nothing but figures is said."""

from __future__ import annotations

import datetime as dt

from analysis.rag import Status, significance
from instruments import load_definitions
from survey_app.dashboard.scorecard import MeasureRow, OutcomeCard, Point
from survey_app.reports.summary import (
    MAX_CHANGES,
    headline_text,
    significant_changes,
    status_changes,
    summarise,
)
from survey_app.targets import Target

FRAMEWORK = load_definitions().framework
OUTCOME = FRAMEWORK.outcome("O1")
TARGET = Target(30, None, 60, dt.date(2027, 3, 31), "higher", 10, None)


def _row(measure_index: int, values, change=None, significant=None, status="off_track"):
    measure = OUTCOME.measures[measure_index]
    series = [Point(f"2026-Q{i + 1}", v) for i, v in enumerate(values)]
    tag = (
        significance(change, significant)
        if change is not None
        else significance(None, None, not_compared="no earlier wave")
    )
    return MeasureRow(
        measure,
        f"Title {measure.id}",
        TARGET,
        series[-1],
        change,
        tag,
        series,
        Status(status, "why"),
        "%",
        series[-1],
    )


def test_significant_changes_are_the_largest_first_and_only_significant_ones() -> None:
    rows = [
        _row(0, [30, 34], change=4, significant=True),
        _row(1, [50, 41], change=-9, significant=True),
        _row(2, [20, 32], change=12, significant=False),  # large but not significant
        _row(3, [40, None], change=None),  # suppressed this wave
    ]
    found = significant_changes(rows, "2026-Q2")
    assert [c.row.measure.id for c in found] == [OUTCOME.measures[1].id, OUTCOME.measures[0].id]
    assert found[0].text == (
        f"Title {OUTCOME.measures[1].id} fell from 50% to 41% (-9 points), a significant fall"
    )
    assert found[1].text.endswith("rose from 30% to 34% (+4 points), a significant improvement")
    assert significant_changes(rows, "2026-Q3") == []  # not a change into that wave
    assert all("because" not in c.text for c in found)  # figures, never a cause


def test_status_changes_compare_with_the_previous_quarter() -> None:
    now = [_row(0, [30, 34], status="on_track"), _row(1, [50, 41], status="off_track")]
    before = {
        OUTCOME.measures[0].id: _row(0, [30], status="close"),
        OUTCOME.measures[1].id: _row(1, [50], status="off_track"),
    }
    (changed,) = status_changes(now, before)
    assert changed.text == f"Title {OUTCOME.measures[0].id}: now on track (was close)"


def test_summary_names_at_most_three_changes_and_the_outcomes_off_track() -> None:
    rows = [_row(i, [20, 20 + 2 * (i + 1)], change=2 * (i + 1), significant=True) for i in range(4)]
    card = OutcomeCard(OUTCOME, rows)  # four off-track measures: the outcome is off track
    board = {"Leadership": {"": [card]}}
    counts = {"met": 0, "on_track": 0, "close": 0, "off_track": 4, "none": 0}
    summary = summarise(
        "2026-Q2", None, board, None, counts, {**counts, "off_track": 1}, ["Survey: 40 responses"]
    )
    assert len(summary.changes) == MAX_CHANGES == 3
    assert [c.row.change for c in summary.changes] == [8, 6, 4]
    assert summary.off_track == [card] and summary.status_changes == []
    assert summary.priorities["Leadership"].changes[0].row.change == 8
    assert summary.headline == headline_text(counts, {**counts, "off_track": 1})
    assert summary.headline.startswith("Of 4 measures: 0 target met, 0 on track, 0 close, 4 off")
    assert summary.headline.endswith("1 off track, 0 without a rating.")
