"""Property-based: for random answers to a routed instrument, what the ingestion door would
store holds only answers to questions whose condition held, every question whose condition
held and is required has an answer, and everything else is stored as not asked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import Instrument, load_definitions
from instruments.routing import NOT_ASKED, conditions_of, holds, items_in_order
from survey_app.ingestion import Invalid, validate
from tests.instruments.test_routing_format import ROUTED, _instrument

SHIPPED = load_definitions().instrument("resident-services")
ROUTED_TEST = _instrument(ROUTED)


def _values(instrument: Instrument, item) -> st.SearchStrategy[str]:
    """Valid stored values for an item (and sometimes none)."""
    if getattr(item, "type", None) == "scale":
        scale = instrument.scale_of(item)
        options = [str(p) for p in range(1, scale.k + 1)] + (["dk"] if scale.dont_know else [])
        return st.sampled_from(options)
    if getattr(item, "type", None) == "multi":
        count = len(item.choices)
        return st.lists(st.integers(1, count), min_size=1, max_size=count, unique=True).map(
            lambda ps: ",".join(str(p) for p in sorted(ps))
        )
    if getattr(item, "type", None) == "number":
        return st.integers(0, 100).map(str)
    if getattr(item, "type", None) == "text":
        return st.sampled_from(["Fine", "More buses"])
    return st.sampled_from(item.choices)


def _answers(instrument: Instrument) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {},
        optional={item.id: _values(instrument, item) for item in items_in_order(instrument)},
    )


def _check(instrument: Instrument, answers: dict[str, str]) -> None:
    try:
        questions, attributes = validate(instrument, answers)
    except Invalid as invalid:
        stored = None
        problems = {p.field_id for p in invalid.problems}
    else:
        stored = {**questions, **attributes}
        problems = set()
    if stored is None:
        # refused: only for an answer the rules refuse, a required question left out, or
        # nothing answered, each one named
        assert problems
        return
    given_answers = {k: v for k, v in stored.items() if v != NOT_ASKED}
    for item in items_in_order(instrument):
        held = all(holds(c, instrument, given_answers) for c in conditions_of(instrument, item))
        value = stored.get(item.id)
        if value is not None and value != NOT_ASKED:
            assert held, f"{item.id} stored although its condition did not hold"
        if held and getattr(item, "required", False):
            assert value not in (None, NOT_ASKED), f"required {item.id} asked but not answered"
        if not held:
            assert value == NOT_ASKED, f"{item.id} not asked but stored as {value!r}"


@pytest.mark.parametrize("instrument", [SHIPPED, ROUTED_TEST], ids=["resident-services", "routed"])
def test_stored_answers_follow_the_routing(app, instrument: Instrument) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(answers=_answers(instrument))
    def check(answers: dict[str, str]) -> None:
        _check(instrument, answers)

    with app.app_context():
        check()
