"""A measure's status against the trajectory to its target (issue 17 section 1): each status,
direction lower, KPIs in their units, the default baseline date, before the first wave, after
the target date, the grey reasons, the outcome summary and the significance tag."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from analysis.rag import (
    Status,
    baseline_date_or_first,
    describe_counts,
    rate,
    signed_change,
    significance,
    status_counts,
    summary_status,
    trajectory,
)

START, DUE = dt.date(2025, 3, 31), dt.date(2027, 3, 31)  # 730 days
HALFWAY = dt.date(2026, 3, 31)  # 365 days in: the trajectory is at 365/730 of the way


def survey(estimate, at=HALFWAY, **kwargs) -> Status:
    """A % measure from 40 to 60: its trajectory is 50 half way."""
    return rate(estimate, 60.0, 40.0, START, DUE, at, **kwargs)


def test_the_trajectory_is_the_straight_line_from_baseline_to_target() -> None:
    assert trajectory(40.0, 60.0, START, DUE, START) == 40.0
    assert trajectory(40.0, 60.0, START, DUE, HALFWAY) == 50.0
    assert trajectory(40.0, 60.0, START, DUE, dt.date(2025, 9, 30)) == pytest.approx(
        40.0 + 20.0 * 183 / 730, abs=1e-12
    )
    assert trajectory(40.0, 60.0, START, DUE, DUE) == 60.0
    # lower is better: the line falls from 48 to 0
    assert trajectory(48.0, 0.0, START, DUE, HALFWAY) == 24.0


def test_before_the_baseline_date_the_trajectory_is_the_baseline() -> None:
    assert trajectory(40.0, 60.0, START, DUE, dt.date(2024, 12, 31)) == 40.0
    status = survey(41.0, at=dt.date(2024, 12, 31))
    assert status.key == "on_track" and status.trajectory == 40.0


def test_after_the_target_date_the_trajectory_is_the_target() -> None:
    late = dt.date(2027, 9, 30)
    assert trajectory(40.0, 60.0, START, DUE, late) == 60.0
    assert survey(59.0, at=late).key == "close"  # no longer "on track" short of the target
    assert survey(49.0, at=late).key == "off_track"
    assert survey(60.0, at=late).key == "met"


def test_a_target_date_not_after_the_baseline_date_is_all_due_at_the_target_date() -> None:
    assert trajectory(40.0, 60.0, DUE, DUE, HALFWAY) == 40.0
    assert trajectory(40.0, 60.0, DUE, START, DUE) == 60.0


@pytest.mark.parametrize(
    "estimate, key, label",
    [
        (60.0, "met", "Target met"),  # at the target exactly
        (72.0, "met", "Target met"),
        (50.0, "on_track", "On track"),  # at the trajectory exactly
        (55.0, "on_track", "On track"),
        (40.0, "close", "Close"),  # exactly the amber margin (10) short: inclusive
        (45.0, "close", "Close"),
        (39.9, "off_track", "Off track"),
        (10.0, "off_track", "Off track"),
    ],
)
def test_each_status(estimate, key, label) -> None:
    status = survey(estimate)
    assert (status.key, status.label) == (key, label)
    assert status.trajectory == 50.0


def test_the_reasons_say_how_far_from_which_trajectory_and_when() -> None:
    assert survey(47.0).reason == (
        "3 points below the trajectory of 50% for 31 Mar 2026, within the margin of 10 points"
    )
    assert survey(30.0).reason == "20 points below the trajectory of 50% for 31 Mar 2026"
    assert survey(52.4).reason == "2 points above the trajectory of 50% for 31 Mar 2026"
    assert survey(50.2).reason == "On the trajectory of 50% for 31 Mar 2026"
    assert survey(61.0).reason == "At or beyond the target of 60%"


def test_the_estimate_is_compared_unrounded() -> None:
    # 49.6 shows as 50% but is short of the trajectory of 50: close, not on track
    assert survey(49.6).key == "close"
    assert survey(49.6).reason.startswith("Less than 1 point below")


def test_the_amber_margin_is_inclusive_and_may_be_zero() -> None:
    assert survey(48.0, amber_margin=2).key == "close"
    assert survey(47.9, amber_margin=2).key == "off_track"
    assert survey(49.9, amber_margin=0).key == "off_track"


@pytest.mark.parametrize(
    "estimate, key",
    [
        (0.0, "met"),  # a budget gap of 0 meets a target of 0
        (-1.0, "met"),
        (24.0, "on_track"),  # the trajectory from 48 to 0 is at 24 half way
        (20.0, "on_track"),
        (29.0, "close"),  # within the 5 £m margin above the trajectory
        (29.1, "off_track"),
    ],
)
def test_direction_lower_in_a_kpis_own_units(estimate, key) -> None:
    status = rate(
        estimate, 0.0, 48.0, START, DUE, HALFWAY, direction="lower", amber_margin=5, unit="£m"
    )
    assert status.key == key and status.trajectory == 24.0


def test_a_kpi_reason_is_in_its_units() -> None:
    status = rate(
        27.5, 0.0, 48.0, START, DUE, HALFWAY, direction="lower", amber_margin=5, unit="£m"
    )
    assert status.reason == (
        "3.5 £m above the trajectory of 24 £m for 31 Mar 2026, within the margin of 5 £m"
    )
    assert rate(21.0, 0.0, 48.0, START, DUE, HALFWAY, direction="lower", unit="£m").reason == (
        "3 £m below the trajectory of 24 £m for 31 Mar 2026"
    )


def test_no_baseline_date_defaults_to_the_first_waves_closing_date() -> None:
    closings = [dt.date(2026, 1, 20), dt.date(2025, 10, 20), dt.date(2026, 4, 20)]
    assert baseline_date_or_first(None, closings) == dt.date(2025, 10, 20)
    assert baseline_date_or_first(START, closings) == START
    assert baseline_date_or_first(None, []) is None
    # the first wave itself is then read at the baseline
    first = baseline_date_or_first(None, closings)
    at_first = rate(41.0, 60.0, 40.0, first, DUE, dt.date(2025, 10, 20))
    assert at_first.key == "on_track" and at_first.trajectory == 40.0


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"estimate": None}, "No figure yet"),
        ({"estimate": math.nan}, "No figure yet"),
        ({"suppressed": True}, "Too few responses"),
        ({"target": None}, "No target set"),
        ({"target": math.nan}, "No target set"),
        ({"baseline": None}, "No baseline set"),
        ({"target_date": None}, "No target date set"),
        ({"baseline_date": None}, "No baseline date"),
        ({"at": None}, "no closed wave"),
    ],
)
def test_no_rating_says_why(kwargs, reason) -> None:
    arguments = {
        "estimate": 70.0,
        "target": 60.0,
        "baseline": 40.0,
        "baseline_date": START,
        "target_date": DUE,
        "at": HALFWAY,
        **kwargs,
    }
    status = rate(**arguments)
    assert status.key == "none" and status.label == "No rating" and reason in status.reason
    assert status.trajectory is None


def test_a_suppressed_group_is_not_rated_whatever_its_estimate() -> None:
    assert survey(99.0, suppressed=True).key == "none"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="direction"):
        survey(50.0, direction="up")
    with pytest.raises(ValueError, match="amber_margin"):
        survey(50.0, amber_margin=-1)
    with pytest.raises(ValueError, match="baseline"):
        trajectory(math.nan, 60.0, START, DUE, HALFWAY)


def _statuses(*keys) -> list[Status]:
    return [Status(key, "") for key in keys]


@pytest.mark.parametrize(
    "keys, summary",
    [
        (("met", "on_track", "off_track"), "on_track"),  # odd: the middle one
        (("on_track", "on_track", "close", "off_track"), "close"),  # even: the worse middle
        (("off_track", "met"), "off_track"),
        (("close",), "close"),
        (("none", "met", "none"), "met"),  # unrated measures are left out
        (("off_track", "met", "close", "on_track", "met"), "on_track"),  # order does not matter
    ],
)
def test_an_outcome_takes_its_median_measures_status(keys, summary) -> None:
    assert summary_status(_statuses(*keys)).key == summary


def test_an_outcome_is_unrated_only_when_no_measure_is_rated() -> None:
    assert summary_status(_statuses("none", "none")).key == "none"
    assert "No measure" in summary_status([]).reason


def test_an_outcome_shows_all_its_measures_statuses() -> None:
    statuses = _statuses("on_track", "met", "close", "off_track")
    assert describe_counts(statuses) == "2 of 4 on track (1 target met) · 1 close · 1 off track"
    assert describe_counts(_statuses("on_track", "none")) == "1 of 2 on track · 1 no rating"
    assert status_counts(statuses) == {
        "met": 1,
        "on_track": 1,
        "close": 1,
        "off_track": 1,
        "none": 0,
    }


@pytest.mark.parametrize(
    "change, significant, direction, label",
    [
        (6.0, True, "higher", "improved significantly"),
        (-6.0, True, "higher", "fell significantly"),
        (-6.0, True, "lower", "improved significantly"),
        (2.0, False, "higher", "no significant change"),
        (None, None, "higher", "not compared: no earlier wave to compare with"),
    ],
)
def test_the_significance_tag(change, significant, direction, label) -> None:
    assert significance(change, significant, direction=direction).label == label


def test_significance_never_changes_the_status() -> None:
    # the status has no input for significance: a significant rise leaves off track off track
    assert "improved" not in survey(30.0).reason
    tag = significance(10.0, True, not_compared="the question was reworded")
    assert tag.label == "not compared: the question was reworded"


@pytest.mark.parametrize(
    ("value", "unit", "said"),
    [
        (7.4, "%", "+7 points"),
        (-0.6, "%", "-1 point"),
        (1.2, "%", "+1 point"),
        (0.3, "%", "+0 points"),
        (-12.0, "%", "-12 points"),
        (2.46, "£m", "+2.5 £m"),
        (-3.0, "days", "-3 days"),
    ],
)
def test_a_change_is_said_in_its_unit_with_its_sign_and_number(value, unit, said) -> None:
    assert signed_change(value, unit) == said
