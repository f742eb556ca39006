"""The format keys for real surveys: show_if, multi, number, grid, translations."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from instruments import (
    SHIPPED_DIR,
    DefinitionsError,
    diff_instruments,
    load_definitions,
    version_of,
)
from instruments.__main__ import run_validate
from instruments.loader import parse_instrument_text
from instruments.routing import NOT_ASKED, asked, is_routed
from instruments.translation import Localised, languages, missing_strings

# The versions of the shipped definitions before the new keys existed (computed on main at
# 7435945): a definition that does not use a new key must keep its version.
VERSIONS_BEFORE_THE_NEW_KEYS = {
    "member-pulse": "1d49808c65b225d921a079e77e9631b6ea30f9808ea76c2dd7738880f6143f48",
    "partner-survey": "00e552c986c5a560e777fceb1667c2b8e684db5564d563d35d2e6354008e4ab2",
    "resident-perception": "ecafb0f5c84cdb890d739dc133ca1f2ab8535e4dc6d00d215264299e512dbc5c",
    "staff-pulse": "2b8f001e3098fdce08bdcc037afe615961f55ed87eaa7bb755e8e0d65299eed1",
    "staff-roadshow": "7892e290f7f0b09f1a56fb3a5edb5047300839a36b86da4d5ecfb2667c943ae5",
}

ROUTED = """\
id: routed
title: Routed survey
audience: residents
scales:
  sat5:
    labels: [Very dissatisfied, Dissatisfied, Neither, Satisfied, Very satisfied]
    positive: [4, 5]
    dont_know: "Don't know"
questions:
  - id: Q1
    type: choice
    section: Use
    text: Have you used the library in the last 12 months?
    choices: ["Yes", "No"]
    required: true
  - id: Q2
    type: multi
    text: Which services?
    choices: [Library, Parks, None of these]
    exclusive: [None of these]
    min: 1
    max: 2
  - id: Q3
    section: Library
    show_if: {question: Q1, in: [Yes]}
    text: How satisfied are you with the library?
    scale: sat5
    required: true
  - id: Q4
    type: number
    section: More
    show_if: {question: Q3, at_least: 4}
    text: How many visits?
    integer: true
    min: 0
    max: 365
    unit: visits
  - id: G
    type: grid
    show_if: {any: [{question: Q2, in: [Parks]}, {not: {question: Q1, in: ["No"]}}]}
    text: Do you agree?
    scale: sat5
    statements:
      - {id: G1, text: Parks are clean., outcomes: [O12], index: confidence}
      - {id: G2, text: Parks are unsafe., reverse: true, outcomes: [O12]}
attributes:
  - id: ward
    text: Where do you live?
    choices: [North, South]
    show_if: {question: Q1, in: ["Yes"]}
"""


def _instrument(text: str = ROUTED):
    return parse_instrument_text(text, "routed.yaml", load_definitions(SHIPPED_DIR).framework)


#: The member and staff pulses have since gained a question (a new version, on purpose); their
#: definitions as they were when these hashes were recorded are kept beside this test.
BEFORE_NEW_KEYS_DIR = Path(__file__).parent / "data" / "before-new-keys"


def test_shipped_definitions_keep_the_versions_they_had() -> None:
    definitions = load_definitions(SHIPPED_DIR)
    kept = {path.stem: path for path in BEFORE_NEW_KEYS_DIR.glob("*.yaml")}
    assert set(kept) == {"member-pulse", "staff-pulse"}
    for instrument_id, version in VERSIONS_BEFORE_THE_NEW_KEYS.items():
        if instrument_id in kept:
            earlier = parse_instrument_text(
                kept[instrument_id].read_text(), kept[instrument_id].name, definitions.framework
            )
            assert version_of(earlier) == version, instrument_id
            # the shipped file is a new version of it, stored beside the old one
            assert version_of(definitions.instrument(instrument_id)) != version
        else:
            assert version_of(definitions.instrument(instrument_id)) == version, instrument_id


def test_every_new_type_loads() -> None:
    instrument = _instrument()
    assert instrument.question("Q2").exclusive == ["None of these"]
    assert instrument.question("Q4").unit == "visits" and instrument.question("Q4").integer
    # a grid's statements are scale items of their own, sharing the grid's scale and condition
    g2 = instrument.question("G2")
    assert g2.type == "scale" and g2.reverse and g2.scale == "sat5"
    assert g2.show_if == instrument.question("G").show_if
    assert [q.id for q in instrument.scale_questions] == ["Q3", "G1", "G2"]
    assert [q.id for q in instrument.index_questions("confidence")] == ["G1"]
    assert [q.id for q in instrument.outcome_questions("O12")] == ["G1", "G2"]
    assert is_routed(instrument)
    assert not is_routed(load_definitions(SHIPPED_DIR).instrument("staff-pulse"))


def test_the_shipped_resident_survey_uses_routing_multi_and_translations() -> None:
    instrument = load_definitions(SHIPPED_DIR).instrument("resident-services")
    assert is_routed(instrument)
    assert {q.type for q in instrument.questions} >= {"multi", "number", "grid", "scale"}
    assert {"pl", "en-easyread"} <= set(instrument.translations)


@pytest.mark.parametrize(
    ("answers", "kept", "not_asked"),
    [
        # used the library, satisfied: everything asked
        (
            {"Q1": "Yes", "Q2": "1", "Q3": "4", "Q4": "12", "G1": "2", "ward": "North"},
            {"Q1", "Q2", "Q3", "Q4", "G1", "ward"},
            set(),
        ),
        # not used: the library page, its follow-up, the grid (no parks) and ward are not asked,
        # and answers left over from before the change are dropped
        (
            {"Q1": "No", "Q2": "1", "Q3": "5", "Q4": "3", "G1": "1", "ward": "South"},
            {"Q1", "Q2"},
            {"Q3", "Q4", "G1", "G2", "ward"},
        ),
        # don't know is not at least 4, so Q4 is not asked; parks ticked asks the grid
        ({"Q1": "No", "Q2": "2"}, {"Q1", "Q2"}, {"Q3", "Q4", "ward"}),
        ({"Q1": "Yes", "Q3": "dk"}, {"Q1", "Q3"}, {"Q4"}),
    ],
)
def test_routing_keeps_only_the_answers_to_questions_asked(answers, kept, not_asked) -> None:
    instrument = _instrument()
    kept_answers, skipped = asked(instrument, answers)
    assert set(kept_answers) == kept
    assert skipped == not_asked
    assert NOT_ASKED == "na"


def _with(mutate) -> str:
    data = yaml.safe_load(ROUTED)
    mutate(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _set(path, value):
    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


BROKEN = {
    "refers to a later question": (
        _set(["questions", 2, "show_if"], {"question": "Q4", "at_least": 1}),
        "questions[2].show_if",
        "not on an earlier page",
    ),
    "refers to the same page": (
        _set(["questions", 1, "show_if"], {"question": "Q1", "in": ["Yes"]}),
        "questions[1].show_if",
        "not on an earlier page",
    ),
    "unknown question": (
        _set(["questions", 2, "show_if"], {"question": "Q99", "in": ["Yes"]}),
        "questions[2].show_if",
        "'Q99', which is not a question",
    ),
    "unknown value": (
        _set(["questions", 2, "show_if"], {"question": "Q1", "in": ["Maybe"]}),
        "questions[2].show_if",
        "'Maybe' is not an answer of Q1",
    ),
    "at_least on a choice": (
        _set(["questions", 2, "show_if"], {"question": "Q1", "at_least": 2}),
        "questions[2].show_if",
        "use 'in'",
    ),
    "condition with two forms": (
        _set(["questions", 2, "show_if"], {"question": "Q1", "in": ["Yes"], "any": []}),
        "questions[2].show_if",
        "",
    ),
    "exclusive not a choice": (
        _set(["questions", 1, "exclusive"], ["Nothing"]),
        "questions[1]",
        "exclusive choice 'Nothing' is not one of the choices",
    ),
    "multi max too large": (
        _set(["questions", 1, "max"], 5),
        "questions[1]",
        "a whole number from 1 to 3",
    ),
    "number range backwards": (
        _set(["questions", 3, "min"], 400),
        "questions[3]",
        "'min' (400) is more than 'max' (365)",
    ),
    "unit on a scale": (
        _set(["questions", 2, "unit"], "points"),
        "questions[2]",
        "only for type: number",
    ),
    "grid without statements": (
        _set(["questions", 4, "statements"], []),
        "questions[4]",
        "a grid question needs 'statements'",
    ),
    "statement id repeats a question": (
        _set(["questions", 4, "statements", 0, "id"], "Q1"),
        "questions[4].statements[0].id",
        "repeats a question",
    ),
    "unknown key in a condition": (
        _set(["questions", 2, "show_if"], {"question": "Q1", "is": ["Yes"]}),
        "questions[2].show_if.is",
        "unknown key 'is'",
    ),
    "translation of an unknown question": (
        _set(["translations"], {"pl": {"questions": {"Q9": {"text": "Pytanie"}}}}),
        "translations.pl.questions.Q9",
        "no question has id 'Q9'",
    ),
    "translation with too few choices": (
        _set(["translations"], {"pl": {"questions": {"Q1": {"choices": ["Tak"]}}}}),
        "translations.pl.questions.Q1.choices",
        "1 translations for 2 labels",
    ),
    "bad language code": (
        _set(["translations"], {"Polish!": {"title": "x"}}),
        "translations.Polish!",
        "",
    ),
    "section settings for no section": (
        _set(["sections"], [{"title": "Nowhere"}]),
        "sections[0].title",
        "no question has section: 'Nowhere'",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_new_keys_are_reported_with_path_line_and_problem(kind: str) -> None:
    mutate, path, problem = BROKEN[kind]
    with pytest.raises(DefinitionsError) as caught:
        _instrument(_with(mutate))
    assert any(
        e.file == "routed.yaml" and e.path.startswith(path) and problem in e.message and e.line
        for e in caught.value.errors
    ), [str(e) for e in caught.value.errors]


def test_a_condition_error_names_the_line_of_the_show_if() -> None:
    text = ROUTED.replace(
        "show_if: {question: Q3, at_least: 4}", "show_if: {question: Q3, at_least: 4, in: [x]}"
    )
    with pytest.raises(DefinitionsError) as caught:
        _instrument(text)
    (error,) = caught.value.errors
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "in: [x]" in row)
    assert error.line == line and error.path == "questions[3].show_if"


# --------------------------------------------------------------------------- versions


def test_adding_or_changing_show_if_breaks_that_question_only() -> None:
    old = _instrument()
    added = _instrument(_with(_set(["questions", 1, "show_if"], None)))
    assert version_of(added) == version_of(old)  # null is the default: the same version
    changed = _instrument(ROUTED.replace("at_least: 4", "at_least: 5"))
    diff = diff_instruments(old, changed)
    assert diff.breaking == ("Q4",)
    removed = _instrument(_with(lambda d: d["questions"][2].pop("show_if")))
    assert diff_instruments(old, removed).breaking == ("Q3",)
    # a section's condition is every one of its questions' condition
    no_section_rule = ROUTED.replace("section: Library", "section: Library2")
    assert "Q3" not in diff_instruments(old, _instrument(no_section_rule)).breaking


def test_a_translation_changes_the_version_but_not_comparability() -> None:
    old = _instrument()
    translated = _instrument(
        _with(
            _set(
                ["translations"],
                {"cy": {"title": "Arolwg", "questions": {"Q1": {"text": "Ydych chi?"}}}},
            )
        )
    )
    assert version_of(translated) != version_of(old)
    diff = diff_instruments(old, translated)
    assert diff.breaking == () and diff.changed == ()
    assert diff.translations == ("cy",)
    assert any("translations: cy changed (comparable)" in line for line in diff.lines())


# --------------------------------------------------------------------------- translations


TRANSLATED = {
    "pl": {
        "name": "Polski",
        "title": "Ankieta",
        "scales": {
            "sat5": {"labels": {1: "Bardzo niezadowolony", "Very satisfied": "Bardzo zadowolony"}}
        },
        "sections": {"Use": "Korzystanie"},
        "questions": {
            "Q1": {"text": "Czy korzystałeś z biblioteki?", "choices": ["Tak", "Nie"]},
            "Q2": {"choices": {3: "Żadne"}},
            "G": {"statements": {"G1": "Parki są czyste."}},
        },
    },
    "ur": {"title": "سروے"},
}


def test_translated_strings_fall_back_to_english() -> None:
    instrument = _instrument(_with(_set(["translations"], TRANSLATED)))
    polish = Localised(instrument, "pl")
    assert polish.title == "Ankieta" and not polish.rtl
    assert polish.text(instrument.question("Q1")) == "Czy korzystałeś z biblioteki?"
    assert polish.text(instrument.question("Q3")) == "How satisfied are you with the library?"
    assert polish.choice(instrument.question("Q1"), 1) == "Nie"
    assert [polish.choice(instrument.question("Q2"), i) for i in range(3)] == [
        "Library",
        "Parks",
        "Żadne",
    ]
    assert polish.scale_label("sat5", 0) == "Bardzo niezadowolony"
    assert polish.scale_label("sat5", 4) == "Bardzo zadowolony"
    assert polish.scale_label("sat5", 2) == "Neither"
    assert polish.text(instrument.question("G1")) == "Parki są czyste."
    assert polish.text(instrument.question("G2")) == "Parks are unsafe."
    assert polish.section("Use") == "Korzystanie"
    assert Localised(instrument, "ur").rtl
    assert Localised(instrument, "de").title == "Routed survey"  # no such translation: English
    assert languages(instrument) == [("en", "English"), ("pl", "Polski"), ("ur", "اردو")]
    missing = missing_strings(instrument)
    assert "pl: questions.Q3.text" in missing and "pl: questions.Q1.text" not in missing
    assert "pl: scales.sat5.labels[3]" in missing and "pl: scales.sat5.labels[1]" not in missing
    assert "pl: questions.G.statements.G2" in missing
    assert "pl: questions.Q2.choices[1]" in missing and "pl: questions.Q2.choices[3]" not in missing
    assert "ur: questions.Q1.text" in missing


def test_validate_lists_the_strings_left_in_english(tmp_path: Path, capsys) -> None:
    shutil.copy(SHIPPED_DIR / "framework.yaml", tmp_path / "framework.yaml")
    (tmp_path / "routed.yaml").write_text(
        _with(_set(["translations"], TRANSLATED)), encoding="utf-8"
    )
    assert run_validate([tmp_path]) == 0  # missing strings fall back: not an error
    out = capsys.readouterr().out
    assert "untranslated (shown in English)  routed.yaml: pl: questions.Q3.text" in out
    assert "pl: questions.Q1.text" not in out


def test_yaml_yes_and_no_in_a_condition_are_labels() -> None:
    text = textwrap.dedent(ROUTED)
    assert "in: [Yes]" in text  # unquoted: YAML reads a boolean
    instrument = _instrument(text)
    assert instrument.question("Q3").show_if is not None
    assert instrument.question("Q3").show_if.in_ == ["Yes"]


def test_a_survey_measure_may_be_the_mean_of_a_number_question() -> None:
    from instruments import Measure

    measure = Measure(id="M", type="survey", audience="residents", level="number", item="V02")
    assert measure.level == "number"
    with pytest.raises(ValueError, match="level: number needs 'item'"):
        Measure(id="M", type="survey", audience="residents", level="number")
