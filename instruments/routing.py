"""Routing: which questions a respondent is asked, from their earlier answers.

A question, a section (page) or an attribute with ``show_if`` is asked only when its
condition holds on the answers given before it; a grid's statements share the grid's
condition, and a question in a section with a ``show_if`` needs both. A question that was
not asked is *not asked* (stored as :data:`NOT_ASKED`, exported as ``na``), which is not the
same as asked and left blank. Conditions may only use answers from earlier pages (the schema
checks it), so evaluating the items in order settles everything in one pass, and an answer
to a question that is no longer asked never counts towards a later condition.

Answers are in their stored form: a scale position ``"1"``..``"k"`` or ``"dk"``, a choice's
label, a multi answer's ticked 1-based positions joined by commas (``"1,3"``), a number as
text.
"""

from __future__ import annotations

from collections.abc import Mapping

from .schema import Attribute, Condition, Instrument, Question

NOT_ASKED = "na"
DONT_KNOW = "dk"
MULTI_SEPARATOR = ","


def ticked_positions(value: str) -> list[int]:
    """The 1-based positions in a stored multi answer (``"1,3"`` -> ``[1, 3]``)."""
    return [int(p) for p in value.split(MULTI_SEPARATOR) if p.strip()]


def _labels_of(instrument: Instrument, question: Question, value: str) -> list[str]:
    if question.type == "scale":
        scale = instrument.scale_of(question)
        if value == DONT_KNOW:
            return [scale.dont_know] if scale.dont_know else []
        return [scale.labels[int(value) - 1]] if value.isdigit() else []
    if question.type == "multi":
        choices = question.choices or []
        return [choices[p - 1] for p in ticked_positions(value) if 1 <= p <= len(choices)]
    return [value]


def _number_of(question: Question, value: str) -> float | None:
    if question.type == "scale":
        return float(value) if value.isdigit() else None
    try:
        return float(value)
    except ValueError:
        return None


def holds(condition: Condition, instrument: Instrument, answers: Mapping[str, str]) -> bool:
    """Whether ``condition`` holds on ``answers``. An unanswered or not-asked question is in
    no list and at least nothing (so ``not`` of such a test holds)."""
    if condition.all_ is not None:
        return all(holds(c, instrument, answers) for c in condition.all_)
    if condition.any_ is not None:
        return any(holds(c, instrument, answers) for c in condition.any_)
    if condition.not_ is not None:
        return not holds(condition.not_, instrument, answers)
    value = answers.get(condition.question or "")
    if value is None or value in ("", NOT_ASKED):
        return False
    question = instrument.question(condition.question or "")
    if condition.in_ is not None:
        return bool(set(_labels_of(instrument, question, value)) & set(condition.in_))
    number = _number_of(question, value)
    if number is None:
        return False
    if condition.at_least is not None and number < condition.at_least:
        return False
    return not (condition.at_most is not None and number > condition.at_most)


def conditions_of(instrument: Instrument, item: Question | Attribute) -> list[Condition]:
    """Every condition that must hold for ``item`` to be asked (section and own)."""
    found = []
    if isinstance(item, Question):
        section = instrument.section_condition(instrument.section_of(item))
        if section is not None:
            found.append(section)
    if item.show_if is not None:
        found.append(item.show_if)
    return found


def is_asked(
    instrument: Instrument, item: Question | Attribute, answers: Mapping[str, str]
) -> bool:
    return all(holds(c, instrument, answers) for c in conditions_of(instrument, item))


def items_in_order(instrument: Instrument) -> list[Question | Attribute]:
    """Every item answers are stored under, in the order respondents meet them."""
    return [*instrument.answer_items, *instrument.attributes]


def asked(instrument: Instrument, answers: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """``answers`` kept to the items asked, and the ids of the items not asked.

    Evaluated in order, so an answer to a question that is not asked (given before an
    earlier answer changed) is dropped and does not count towards later conditions."""
    kept: dict[str, str] = {}
    not_asked: set[str] = set()
    for item in items_in_order(instrument):
        if is_asked(instrument, item, kept):
            if item.id in answers:
                kept[item.id] = answers[item.id]
        else:
            not_asked.add(item.id)
    return kept, not_asked


def is_routed(instrument: Instrument) -> bool:
    """Whether any item of the instrument can be not asked."""
    return any(conditions_of(instrument, item) for item in items_in_order(instrument))
