"""A measure's status: is it on track for its target date? (issue 17 section 1, DESIGN.md 2).

The **trajectory** is the straight line from the baseline (at ``baseline_date``) to the target
(at ``target_date``), read at the closing date of the latest closed wave (for a KPI: the end of
its period)::

    trajectory(at) = baseline + (target - baseline) * clamp((at - baseline_date) / span, 0, 1)

with ``span = target_date - baseline_date``. Before the baseline date it is the baseline; after
the target date it is the target. The unrounded estimate is compared with it in the measure's
direction, in this order:

* **Target met**: at or beyond the target;
* **On track**: at or beyond the trajectory;
* **Close**: short of the trajectory by no more than the amber margin (inclusive, in the
  measure's units: points for a percentage, the KPI's own units otherwise);
* **Off track**: otherwise;
* **No rating** (grey), with the reason: no closed wave with a figure, a suppressed (too small)
  group, no target, baseline or target date.

Significance is a separate tag (:class:`SignificanceTag`) and never changes the status. An
outcome's summary status is the status of its median measure (:func:`summary_status`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

StatusKey = Literal["met", "on_track", "close", "off_track", "none"]
#: the rated statuses from best to worst ("none" is not rated and sorts after them)
ORDER: tuple[StatusKey, ...] = ("met", "on_track", "close", "off_track")
LABELS: dict[StatusKey, str] = {
    "met": "Target met",
    "on_track": "On track",
    "close": "Close",
    "off_track": "Off track",
    "none": "No rating",
}
# the same comparisons whichever way a float's last bit fell (e.g. 45.00000000000001)
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Status:
    """One measure's (or outcome's) status: ``key`` for styling, ``label`` for people,
    ``reason`` in plain words, and the ``trajectory`` value it was compared with (None when
    there was nothing to compare)."""

    key: StatusKey
    reason: str
    trajectory: float | None = None

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def rated(self) -> bool:
        return self.key != "none"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_date(day: dt.date) -> str:
    """``30 Sep 2026``: the date as the reasons give it."""
    return f"{day.day} {day:%b %Y}"


def amount(value: float, unit: str) -> str:
    """A level in the measure's units: "52%", "24 £m"; percentages as whole numbers, the
    precision pages show (survey_app.display), KPI values to one decimal at most. Reasons,
    chart descriptions and the KPI page all say a level this way."""
    if unit == "%":
        return f"{round(value):.0f}%"
    return f"{round(value, 1):g} {unit}"


def signed_change(value: float, unit: str) -> str:
    """A change in the measure's units, with its sign: "+7 points", "-1 point", "+0 points"
    (percentages as whole numbers, as pages show them), "+2.5 £m" (a KPI, one decimal at
    most). Pages, the written summary and the slides all say a change this way."""
    if unit == "%":
        whole = round(value)
        return f"{whole:+.0f} point{'' if abs(whole) == 1 else 's'}"
    return f"{round(value, 1):+g} {unit}"


def _difference(value: float, unit: str) -> str:
    """A gap in the measure's units: "3 points", "less than 1 point", "4.5 £m"."""
    if unit == "%":
        whole = round(value)
        if whole == 0:
            return "less than 1 point"
        return f"{whole:.0f} point{'s' if whole != 1 else ''}"
    return f"{round(value, 1):g} {unit}"


def trajectory(
    baseline: float,
    target: float,
    baseline_date: dt.date,
    target_date: dt.date,
    at: dt.date,
) -> float:
    """The level a measure should have reached by ``at`` on the way from baseline to target.

    Parameters
    ----------
    baseline, target : float
        The measure's baseline and target, in its units.
    baseline_date, target_date : datetime.date
        When the baseline was measured and when the target is due.
    at : datetime.date
        The date to read the trajectory at (a wave's closing date, a KPI period's end).

    Returns
    -------
    float
        ``baseline + (target - baseline) * clamp((at - baseline_date) / (target_date -
        baseline_date), 0, 1)``: the baseline up to the baseline date, the target from the
        target date on. When the target date is not after the baseline date the whole change
        is due at the target date (the limit of the formula as the span shrinks to nothing).

    Raises
    ------
    ValueError
        If the baseline or target is missing or not a finite number.

    References
    ----------
    Issue 17 section 1 (the trajectory rule); DESIGN.md section 2.
    """
    for name, value in (("baseline", baseline), ("target", target)):
        if value is None or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    span = (target_date - baseline_date).days
    elapsed = (at - baseline_date).days
    if span <= 0:
        fraction = 1.0 if at >= target_date else 0.0
    else:
        fraction = min(max(elapsed / span, 0.0), 1.0)
    return baseline + (target - baseline) * fraction


def baseline_date_or_first(
    baseline_date: dt.date | None, closing_dates: Iterable[dt.date]
) -> dt.date | None:
    """The framework's ``baseline_date`` of a measure, or by default the first closing date of
    its waves (None when it has neither)."""
    if baseline_date is not None:
        return baseline_date
    return min(closing_dates, default=None)


def rate(
    estimate: float | None,
    target: float | None,
    baseline: float | None,
    baseline_date: dt.date | None,
    target_date: dt.date | None,
    at: dt.date | None,
    *,
    direction: str = "higher",
    amber_margin: float = 10.0,
    suppressed: bool = False,
    unit: str = "%",
) -> Status:
    """The status of one measure: its estimate against its trajectory at ``at``.

    Parameters
    ----------
    estimate : float or None
        The unrounded estimate of the latest closed wave (a KPI: its latest period's value);
        None or NaN when there is none.
    target, baseline : float or None
        The measure's target and baseline, in its units.
    baseline_date, target_date : datetime.date or None
        The span of the trajectory (see :func:`baseline_date_or_first` for the default
        baseline date).
    at : datetime.date or None
        The wave's closing date (a KPI: the end of its period).
    direction : {"higher", "lower"}
        Which way is better.
    amber_margin : float
        How far short of the trajectory still counts as "Close" (inclusive), in the
        measure's units.
    suppressed : bool
        The group is too small to report: no rating, whatever the estimate.
    unit : str
        "%" for survey measures (gaps in points), else the KPI's units.

    Returns
    -------
    Status
        "met" if the estimate is at or beyond the target, "on_track" if at or beyond the
        trajectory, "close" if within ``amber_margin`` of it, "off_track" otherwise; "none"
        with the reason when there is nothing to rate.

    Raises
    ------
    ValueError
        For a direction other than "higher"/"lower" or a negative amber margin.

    References
    ----------
    Issue 17 section 1; DESIGN.md section 2.
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    if _missing(amber_margin) or amber_margin < 0:
        raise ValueError(f"amber_margin must be zero or more, not {amber_margin!r}")
    if suppressed:
        return Status("none", "Too few responses to report (suppressed to protect anonymity)")
    if estimate is None or _missing(estimate):
        return Status("none", "No figure yet from a closed wave or a recorded period")
    if target is None or _missing(target):
        return Status("none", "No target set")
    if baseline is None or _missing(baseline):
        return Status("none", "No baseline set, so no trajectory to the target")
    if target_date is None:
        return Status("none", "No target date set, so no trajectory to the target")
    if baseline_date is None or at is None:
        return Status("none", "No baseline date and no closed wave to start the trajectory")
    expected = trajectory(baseline, target, baseline_date, target_date, at)
    sign = 1.0 if direction == "higher" else -1.0
    # how far the estimate is beyond (positive) or short of (negative) a level, in the
    # measure's better direction
    beyond_target = sign * (estimate - target)
    beyond_trajectory = sign * (estimate - expected)
    when = format_date(at)
    if beyond_target >= -_TOLERANCE:
        return Status(
            "met", f"At or beyond the target of {amount(target, unit)}", trajectory=expected
        )
    better, worse = ("above", "below") if direction == "higher" else ("below", "above")
    where = f"the trajectory of {amount(expected, unit)} for {when}"
    if beyond_trajectory >= -_TOLERANCE:
        gap = _difference(beyond_trajectory, unit)
        text = f"On {where}" if gap == "less than 1 point" else f"{gap} {better} {where}"
        return Status("on_track", text[0].upper() + text[1:], trajectory=expected)
    gap = _difference(-beyond_trajectory, unit)
    if -beyond_trajectory <= amber_margin + _TOLERANCE:
        margin = _difference(amber_margin, unit) if amber_margin else "0"
        return Status(
            "close",
            f"{gap[0].upper()}{gap[1:]} {worse} {where}, within the margin of {margin}",
            trajectory=expected,
        )
    return Status("off_track", f"{gap[0].upper()}{gap[1:]} {worse} {where}", trajectory=expected)


def _rank(status: Status) -> int:
    return ORDER.index(status.key) if status.key in ORDER else len(ORDER)


def summary_status(statuses: Iterable[Status]) -> Status:
    """An outcome's summary: the status of its median measure.

    The rated measures are ordered from best to worst status ("Target met" first, "Off track"
    last); the summary is the middle one, and for an even count the worse of the two middle
    ones (0-based position ``n // 2`` either way). Measures with no rating are left out; the
    summary is "No rating" only when none is rated.
    """
    rated = sorted((s for s in statuses if s.rated), key=_rank)
    if not rated:
        return Status("none", "No measure of this outcome has a rating yet")
    median = rated[len(rated) // 2]
    return Status(
        median.key,
        f"The median of {len(rated)} rated measure{'s' if len(rated) != 1 else ''}",
    )


def status_counts(statuses: Iterable[Status]) -> dict[StatusKey, int]:
    """How many statuses of each key, every key present (best first, "none" last)."""
    counts: dict[StatusKey, int] = dict.fromkeys((*ORDER, "none"), 0)
    for status in statuses:
        counts[status.key] += 1
    return counts


def describe_counts(statuses: Iterable[Status]) -> str:
    """An outcome's measures in words: "2 of 4 on track · 1 close · 1 off track".

    The first phrase counts the measures at or beyond their trajectory (target met or on
    track) out of all its measures; the rest name the other statuses that occur."""
    statuses = list(statuses)
    counts = status_counts(statuses)
    good = counts["met"] + counts["on_track"]
    parts = [f"{good} of {len(statuses)} on track"]
    if counts["met"]:
        parts[0] += f" ({counts['met']} target met)"
    parts += [
        f"{counts[key]} {LABELS[key].lower()}"
        for key in ("close", "off_track", "none")
        if counts[key]
    ]
    return " · ".join(parts)


SignificanceKey = Literal["improved", "fell", "no_change", "not_compared"]


@dataclass(frozen=True)
class SignificanceTag:
    """Whether the change since the previous wave is significant (after Benjamini-Hochberg),
    and which way. A tag beside the status; it never changes the status."""

    key: SignificanceKey
    why: str = ""  # for "not_compared": the reason

    @property
    def label(self) -> str:
        if self.key == "not_compared":
            return f"not compared: {self.why}" if self.why else "not compared"
        return {
            "improved": "improved significantly",
            "fell": "fell significantly",
            "no_change": "no significant change",
        }[self.key]


def significance(
    change: float | None,
    significant: bool | None,
    *,
    direction: str = "higher",
    not_compared: str | None = None,
) -> SignificanceTag:
    """The tag for a change: "improved significantly" (significant and in the better
    direction), "fell significantly" (significant and in the worse direction), "no
    significant change", or "not compared: why" (``not_compared``; no change or no test)."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    if not_compared is not None:
        return SignificanceTag("not_compared", not_compared)
    if change is None or _missing(change) or significant is None:
        return SignificanceTag("not_compared", "no earlier wave to compare with")
    if not significant:
        return SignificanceTag("no_change")
    better = change > 0 if direction == "higher" else change < 0
    return SignificanceTag("improved" if better else "fell")
