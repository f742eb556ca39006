"""RAG status against targets: each colour, each grey case, direction and outcomes."""

from __future__ import annotations

import math

import pytest

from analysis.rag import Rag, rate, worst


@pytest.mark.parametrize(
    "estimate, target, direction, colour",
    [
        (65.0, 65.0, "higher", "green"),  # meeting the target exactly is green
        (70.0, 65.0, "higher", "green"),
        (55.0, 65.0, "higher", "amber"),  # 10 short: inside the default margin
        (54.9, 65.0, "higher", "red"),
        (0.0, 0.0, "lower", "green"),  # a budget gap of 0 meets a target of 0
        (4.0, 0.0, "lower", "amber"),
        (14.0, 10.0, "lower", "amber"),
        (25.0, 10.0, "lower", "red"),
        (5.0, 10.0, "lower", "green"),
    ],
)
def test_colours(estimate, target, direction, colour) -> None:
    assert rate(estimate, target, direction=direction).colour == colour


def test_amber_margin_is_in_the_measures_units() -> None:
    assert rate(14.0, 0.0, direction="lower", amber_margin=5, unit="£m").colour == "red"
    assert rate(4.5, 0.0, direction="lower", amber_margin=5, unit="£m").reason == (
        "4.5 £m short of the target, within the amber margin"
    )
    assert rate(80.0, 95.0, amber_margin=0).colour == "red"


def test_a_significant_improvement_lifts_red_to_amber_but_never_to_green() -> None:
    assert rate(40.0, 65.0, improved_significantly=True).colour == "amber"
    assert "significantly improved" in rate(40.0, 65.0, improved_significantly=True).reason
    assert rate(70.0, 65.0, improved_significantly=True).colour == "green"


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"estimate": None, "target": 60.0}, "No responses"),
        ({"estimate": math.nan, "target": 60.0}, "No responses"),
        ({"estimate": 70.0, "target": 60.0, "suppressed": True}, "Too few responses"),
        ({"estimate": 70.0, "target": None}, "No target set"),
    ],
)
def test_grey_cases_say_why(kwargs, reason) -> None:
    status = rate(**kwargs)
    assert status.colour == "grey" and reason in status.reason and status.label == "No rating"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="direction"):
        rate(50.0, 60.0, direction="up")
    with pytest.raises(ValueError, match="amber_margin"):
        rate(50.0, 60.0, amber_margin=-1)


def test_an_outcome_takes_the_worst_of_its_measures_with_data() -> None:
    green, amber, red = Rag("green", ""), Rag("amber", ""), Rag("red", "")
    grey = Rag("grey", "Too few responses")
    assert worst([green, amber, grey]).colour == "amber"
    assert worst([green, red, amber]).colour == "red"
    assert worst([grey, green]).colour == "green"  # a grey measure does not drag it down
    assert worst([grey, grey]).colour == "grey" and "No measure" in worst([]).reason
