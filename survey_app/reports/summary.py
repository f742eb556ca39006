"""The written summary that opens the quarterly report, generated from the results by fixed
rules, so that two analysts with the same results get the same words.

The rules, in the order the summary gives them:

1. **Headline.** How many measures are at each status ("Target met", "On track", "Close",
   "Off track", "No rating"), then how many outcomes (each takes its median measure's status).
2. **Largest significant changes.** Of the survey measures with a figure in the report's wave,
   those whose change since their previous wave is significant after the Benjamini-Hochberg
   adjustment, largest change (in points) first, at most :data:`MAX_CHANGES`; each says the
   figure before and after. Non-significant changes are never called changes.
3. **Changes of status.** Every measure whose status differs from its status at the previous
   quarter (the wave before the report's in the results), with both statuses.
4. **Outcomes off track.** Every outcome whose summary status is "Off track", with its
   measures' statuses in words.
5. **Response rates.** For each survey with a wave in the report's quarter: the responses
   and, where the audience size is known, the response rate (counts too small to show are
   "not shown", exactly as on the response monitor).

Each sentence states figures; none gives a reason. Why a figure moved is for the people who
know the service, so the summary says so instead of guessing. Suppressed figures cannot
appear: every number comes from the scorecard rows, which carry no figure for a suppressed
group, and the response counts are suppressed by :mod:`survey_app.response_counts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from analysis.rag import LABELS, StatusKey, amount, signed_change

from ..dashboard.scorecard import MeasureRow, OutcomeCard

#: How many significant changes the summary names (the largest first).
MAX_CHANGES = 3


@dataclass(frozen=True)
class Change:
    row: MeasureRow
    before: float | None
    after: float

    @property
    def text(self) -> str:
        return describe_change(self)


@dataclass(frozen=True)
class StatusChange:
    row: MeasureRow
    was: str  # the previous quarter's status label

    @property
    def text(self) -> str:
        return describe_status_change(self)


@dataclass
class PrioritySummary:
    """What changed since the previous quarter under one priority."""

    changes: list[Change] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)


def stated_amount(value: float | None, unit: str) -> str:
    """A level as the pages say it (:func:`analysis.rag.amount`), or "not reported"."""
    return "not reported" if value is None else amount(value, unit)


def describe_change(change: Change) -> str:
    """e.g. "Members who feel engaged ... rose from 38% to 45% (+7 points), a significant
    improvement" -- figures and significance, never a cause."""
    row = change.row
    points = row.change or 0.0
    verb = "rose" if points > 0 else "fell"
    better = row.significance.key == "improved"
    return (
        f"{row.title} {verb} from {stated_amount(change.before, row.unit)} to "
        f"{stated_amount(change.after, row.unit)} ({signed_change(points, row.unit)}), a significant "
        f"{'improvement' if better else 'fall'}"
    )


def describe_status_change(change: StatusChange) -> str:
    return f"{change.row.title}: now {change.row.status.label.lower()} (was {change.was.lower()})"


def significant_changes(rows: Iterable[MeasureRow], wave: str) -> list[Change]:
    """Rule 2: significant changes into ``wave``, largest first (all of them; callers cut)."""
    found = []
    for row in rows:
        if (
            row.measure.type != "survey"
            or row.latest is None
            or row.latest.label != wave
            or row.latest.value is None
            or row.change is None
            or row.significance.key not in ("improved", "fell")
        ):
            continue
        shown = [p for p in row.series if p.label != wave]
        before = shown[-1].value if shown else None
        found.append(Change(row, before, row.latest.value))
    return sorted(found, key=lambda c: abs(c.row.change or 0.0), reverse=True)


def status_changes(
    rows: Iterable[MeasureRow], previous: dict[str, MeasureRow]
) -> list[StatusChange]:
    """Rule 3: measures whose status key differs from ``previous`` (measure id → row)."""
    return [
        StatusChange(row, previous[row.measure.id].status.label)
        for row in rows
        if row.measure.id in previous and previous[row.measure.id].status.key != row.status.key
    ]


def off_track(cards: Iterable[OutcomeCard]) -> list[OutcomeCard]:
    """Rule 4: outcomes whose summary status is "Off track"."""
    return [card for card in cards if card.summary.key == "off_track"]


def headline_text(measures: dict[StatusKey, int], outcomes: dict[StatusKey, int]) -> str:
    """Rule 1 in words."""

    def part(counts: dict[StatusKey, int]) -> str:
        words = {
            **{key: label.lower() for key, label in LABELS.items()},
            "none": "without a rating",
        }
        return ", ".join(f"{counts[key]} {words[key]}" for key in LABELS)

    return (
        f"Of {sum(measures.values())} measures: {part(measures)}. "
        f"Of {sum(outcomes.values())} outcomes: {part(outcomes)}."
    )


@dataclass
class Summary:
    """The report's written summary (module docstring), and what changed per priority."""

    wave: str
    previous: str | None
    headline: str
    changes: list[Change]
    status_changes: list[StatusChange]
    off_track: list[OutcomeCard]
    response_rates: list[str]
    priorities: dict[str, PrioritySummary]


def summarise(
    wave: str,
    previous: str | None,
    board: dict[str, dict[str, list[OutcomeCard]]],
    previous_board: dict[str, dict[str, list[OutcomeCard]]] | None,
    counts_measures: dict[StatusKey, int],
    counts_outcomes: dict[StatusKey, int],
    response_rates: list[str],
) -> Summary:
    """Apply the rules to the scorecard at ``wave`` and at the ``previous`` quarter."""
    before = {
        row.measure.id: row
        for workstreams in (previous_board or {}).values()
        for cards in workstreams.values()
        for card in cards
        for row in card.rows
    }
    priorities: dict[str, PrioritySummary] = {}
    all_cards: list[OutcomeCard] = []
    for priority, workstreams in board.items():
        cards = [card for group in workstreams.values() for card in group]
        all_cards += cards
        rows = [row for card in cards for row in card.rows]
        priorities[priority] = PrioritySummary(
            significant_changes(rows, wave), status_changes(rows, before) if previous else []
        )
    every_row = [row for card in all_cards for row in card.rows]
    return Summary(
        wave=wave,
        previous=previous,
        headline=headline_text(counts_measures, counts_outcomes),
        changes=significant_changes(every_row, wave)[:MAX_CHANGES],
        status_changes=status_changes(every_row, before) if previous else [],
        off_track=off_track(all_cards),
        response_rates=response_rates,
        priorities=priorities,
    )
