"""The instrument format, the validator's error messages, versions and diffs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from instruments import (
    INDEXES,
    SHIPPED_DIR,
    DefinitionsError,
    diff_instruments,
    load_definitions,
    load_instrument,
    version_of,
)

DESIGN_EXAMPLE = """\
id: member-pulse
title: Member pulse survey
audience: members            # members | staff | residents | partners | commissioners
scales:
  agree5: {labels: [Strongly disagree, Disagree, Neither agree nor disagree, Agree, Strongly agree],
           positive: [4, 5], dont_know: "Don't know"}
questions:
  - id: M01
    text: I have been meaningfully engaged in developing the council's new direction and purpose.
    scale: agree5
    outcomes: [O1]
    index: confidence        # confidence | culture | (none)
  - id: M02
    text: Officers withhold information from members.
    scale: agree5
    reverse: true            # agreeing is negative
    outcomes: [O5]
    index: culture
  - id: M90
    type: text
    text: What one change would most improve how the council works?
    outcomes: [O4]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A definitions folder: the shipped framework plus the DESIGN.md example instrument."""
    shutil.copy(SHIPPED_DIR / "framework.yaml", tmp_path / "framework.yaml")
    (tmp_path / "example.yaml").write_text(DESIGN_EXAMPLE, encoding="utf-8")
    return tmp_path


def test_design_example_loads_as_written(folder: Path) -> None:
    definitions = load_definitions(folder)
    instrument = definitions.instrument("member-pulse")
    assert instrument.audience == "members"
    assert [q.id for q in instrument.questions] == ["M01", "M02", "M90"]
    m02 = instrument.question("M02")
    assert m02.reverse and m02.index == "culture" and m02.type == "scale" and not m02.required
    assert instrument.question("M90").type == "text"
    assert instrument.scales["agree5"].positive == [4, 5]
    assert instrument.scales["agree5"].dont_know == "Don't know"


def test_shipped_definitions_cover_the_framework() -> None:
    definitions = load_definitions(SHIPPED_DIR)
    framework = definitions.framework
    assert framework.outcome_ids == [f"O{i}" for i in range(1, 13)]
    assert framework.min_n("members") == 10
    assert set(definitions.instruments) == {
        "member-pulse",
        "staff-pulse",
        "staff-roadshow",
        "resident-perception",
        "resident-services",
        "partner-survey",
    }
    measured = {
        o for i in definitions.instruments.values() for q in i.questions for o in q.outcomes
    }
    assert set(framework.outcome_ids) - measured == {"O9"}
    for instrument_id in ("member-pulse", "staff-pulse", "resident-perception"):
        instrument = definitions.instrument(instrument_id)
        for index in INDEXES:
            assert len(instrument.index_questions(index)) >= 4, (instrument_id, index)
    # every survey measure points at an instrument of its audience that measures the outcome
    for outcome in framework.outcomes:
        for measure in outcome.measures:
            if measure.type == "survey" and measure.instrument:
                instrument = definitions.instrument(measure.instrument)
                assert instrument.audience == measure.audience, measure.id
                if measure.level == "outcome":
                    assert instrument.outcome_questions(outcome.id), measure.id


def _broken(folder: Path, mutate) -> Path:
    data = yaml.safe_load(DESIGN_EXAMPLE)
    mutate(data)
    (folder / "example.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


def _set(path, value):
    def mutate(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


BROKEN = {
    "unknown outcome": (
        _set(["questions", 0, "outcomes"], ["O99"]),
        "questions[0].outcomes",
        "unknown outcome id 'O99'",
    ),
    "duplicate question": (
        _set(["questions", 1, "id"], "M01"),
        "questions[1].id",
        "duplicate question id 'M01'",
    ),
    "unknown scale": (
        _set(["questions", 1, "scale"], "agree7"),
        "questions[1].scale",
        "unknown scale 'agree7'",
    ),
    "positive out of range": (
        _set(["scales", "agree5", "positive"], [4, 6]),
        "scales.agree5",
        "positive position 6 is out of range",
    ),
    "empty labels": (
        _set(["scales", "agree5", "labels"], []),
        "scales.agree5.labels",
        "at least 2 items",
    ),
    "unknown audience": (
        _set(["audience"], "councillors"),
        "audience",
        "'councillors' is not allowed",
    ),
    "unknown key": (
        _set(["questions", 0, "revers"], True),
        "questions[0].revers",
        "unknown key 'revers'",
    ),
    "missing title": (lambda d: d.pop("title"), "title", "required key 'title' is missing"),
    "bad type": (
        _set(["questions", 2, "type"], "essay"),
        "questions[2].type",
        "'essay' is not allowed",
    ),
    "choice without choices": (
        _set(["questions", 2, "type"], "choice"),
        "questions[2]",
        "a choice question needs 'choices'",
    ),
    "bad index": (
        _set(["questions", 0, "index"], "morale"),
        "questions[0].index",
        "'morale' is not allowed",
    ),
    "reverse on text": (
        _set(["questions", 2, "reverse"], True),
        "questions[2]",
        "'reverse' is only for scale questions",
    ),
    "scale without scale": (
        lambda d: d["questions"][0].pop("scale"),
        "questions[0]",
        "a scale question needs 'scale'",
    ),
    "no questions": (_set(["questions"], []), "questions", "at least 1 item"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_instrument_is_reported_with_file_path_and_problem(folder: Path, kind: str) -> None:
    mutate, path, problem = BROKEN[kind]
    _broken(folder, mutate)
    with pytest.raises(DefinitionsError) as caught:
        load_definitions(folder)
    messages = [str(e) for e in caught.value.errors]
    assert any(
        e.file == "example.yaml" and e.path == path and problem in e.message and e.line
        for e in caught.value.errors
    ), messages


def test_bad_yaml_names_the_line(folder: Path) -> None:
    lines = DESIGN_EXAMPLE.splitlines()
    lines[8] = "    scale: [agree5"  # unclosed flow sequence on line 9
    (folder / "example.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DefinitionsError) as caught:
        load_definitions(folder)
    (error,) = caught.value.errors
    assert error.file == "example.yaml" and error.message.startswith("bad YAML")
    assert error.line is not None and 9 <= error.line <= 11


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "expected a mapping of keys, found empty"),
        ("- a\n- b\n", "found a list"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_files_that_are_not_instruments(folder: Path, content, problem: str) -> None:
    target = folder / "example.yaml"
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DefinitionsError, match=problem):
        load_definitions(folder)


def test_broken_framework_and_instrument_errors_are_all_reported(folder: Path) -> None:
    framework = yaml.safe_load((folder / "framework.yaml").read_text())
    framework["min_group_size"]["aliens"] = 3
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework), encoding="utf-8")
    _broken(folder, _set(["audience"], "nobody"))
    with pytest.raises(DefinitionsError) as caught:
        load_definitions(folder)
    text = str(caught.value)
    assert "framework.yaml" in text and "min_group_size: unknown audience 'aliens'" in text
    assert "example.yaml:3: audience: 'nobody' is not allowed" in text


def test_shipped_framework_crosses_directorate_and_grade_for_staff() -> None:
    definitions = load_definitions()
    assert definitions.framework.crossed_for("staff") == ["directorate*grade"]
    assert definitions.framework.crossed_for("members") == []
    attributes = {a.id for a in definitions.instrument("staff-pulse").attributes}
    assert {"directorate", "grade"} <= attributes


@pytest.mark.parametrize(
    ("crossed", "problem"),
    [
        (
            {"aliens": ["a*b"]},
            "crossed_breakdowns: unknown audience 'aliens' in crossed_breakdowns",
        ),
        (
            {"staff": ["directorate"]},
            "crossed_breakdowns.staff[0]: 'directorate' is not two different attributes "
            "joined by *",
        ),
        ({"staff": ["grade*grade"]}, "crossed_breakdowns.staff[0]: 'grade*grade' is not two"),
        (
            {"staff": ["directorate*grade", "directorate*grade"]},
            "duplicate crossed breakdown of staff 'directorate*grade'",
        ),
        (
            {"staff": ["directorate*grade", "directorate*floor"]},
            "framework.yaml:5: crossed_breakdowns.staff[1]: 'directorate*floor': no staff "
            "instrument asks both directorate and floor (staff-pulse asks directorate, grade; "
            "staff-roadshow asks no attributes)",
        ),
    ],
)
def test_crossed_breakdowns_are_checked_against_the_audiences_instruments(
    folder: Path, crossed, problem: str
) -> None:
    for name in ("staff-pulse.yaml", "staff-roadshow.yaml"):
        shutil.copy(SHIPPED_DIR / name, folder / name)
    framework = yaml.safe_load((folder / "framework.yaml").read_text())
    framework["crossed_breakdowns"] = crossed
    text = yaml.safe_dump(framework, sort_keys=False, default_flow_style=None)
    (folder / "framework.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionsError) as caught:
        load_definitions(folder)
    assert problem in str(caught.value)


def test_a_crossing_is_not_an_error_where_the_audience_asks_no_attributes(folder: Path) -> None:
    # the shipped framework (staff: directorate*grade) beside a members' survey alone, then
    # with the staff roadshow's questions (no attributes): nothing to cross either way
    assert load_definitions(folder).framework.crossed_for("staff") == ["directorate*grade"]
    shutil.copy(SHIPPED_DIR / "staff-roadshow.yaml", folder / "staff-roadshow.yaml")
    assert load_definitions(folder).framework.crossed_for("staff") == ["directorate*grade"]


def test_duplicate_outcome_in_framework(folder: Path) -> None:
    framework = yaml.safe_load((folder / "framework.yaml").read_text())
    framework["priorities"][0]["workstreams"][0]["outcomes"][1]["id"] = "O1"
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework), encoding="utf-8")
    with pytest.raises(DefinitionsError, match="framework.yaml.*duplicate outcome id 'O1'"):
        load_definitions(folder)


def test_a_malformed_folder_never_half_loads(folder: Path) -> None:
    shutil.copy(SHIPPED_DIR / "staff-pulse.yaml", folder / "staff-pulse.yaml")
    _broken(folder, _set(["questions", 0, "outcomes"], ["O77"]))
    with pytest.raises(DefinitionsError):
        load_definitions(folder)


def test_two_files_with_one_instrument_id_are_refused(folder: Path) -> None:
    (folder / "copy.yaml").write_text(DESIGN_EXAMPLE, encoding="utf-8")
    with pytest.raises(DefinitionsError, match="also used by"):
        load_definitions(folder)


# --------------------------------------------------------------------------- CLI


def _validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "instruments", "validate", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_validator_without_flask_passes_shipped_and_fails_broken(folder: Path) -> None:
    shipped = _validate()
    assert shipped.returncode == 0, shipped.stderr
    assert "6 instruments" in shipped.stdout
    _broken(folder, _set(["questions", 1, "scale"], "agree7"))
    broken = _validate(str(folder), str(SHIPPED_DIR / "member-pulse.yaml"))
    assert broken.returncode == 1
    assert "example.yaml:" in broken.stderr and "questions[1].scale" in broken.stderr
    assert "unknown scale 'agree7'" in broken.stderr
    assert "ok  " in broken.stdout and "member-pulse.yaml" in broken.stdout


def test_flask_validate_command(runner, folder: Path) -> None:
    assert runner.invoke(args=["instruments", "validate"]).exit_code == 0
    _broken(folder, _set(["audience"], "everyone"))
    result = runner.invoke(args=["instruments", "validate", str(folder / "example.yaml")])
    assert result.exit_code == 1
    assert "'everyone' is not allowed" in result.output


# --------------------------------------------------------------------------- versions


def test_version_ignores_formatting_and_spelt_out_defaults(tmp_path: Path, folder: Path) -> None:
    definitions = load_definitions(folder)
    original = definitions.instrument("member-pulse")
    data = yaml.safe_load(DESIGN_EXAMPLE)
    for question in data["questions"]:
        question.setdefault("required", False)
    reformatted = tmp_path / "reformatted.yaml"
    reformatted.write_text("# a comment\n" + yaml.safe_dump(data, sort_keys=True, indent=4))
    again = load_instrument(reformatted, definitions.framework)
    assert version_of(again) == version_of(original)
    assert len(version_of(original)) == 64


def test_diff_flags_wording_and_scale_changes_as_breaking(folder: Path, tmp_path: Path) -> None:
    framework = load_definitions(folder).framework
    old = load_instrument(folder / "example.yaml", framework)
    data = yaml.safe_load(DESIGN_EXAMPLE)
    data["questions"][0]["text"] = "I have been consulted on the council's new direction."
    data["questions"][1]["outcomes"] = ["O5", "O4"]  # re-mapping is not a break
    data["scales"]["agree5"]["positive"] = [5]
    data["questions"].append({"id": "M03", "text": "New question.", "scale": "agree5"})
    del data["questions"][2]
    path = tmp_path / "new.yaml"
    path.write_text(yaml.safe_dump(data))
    new = load_instrument(path, framework)
    diff = diff_instruments(old, new)
    assert diff.added == ("M03",) and diff.removed == ("M90",)
    changed = {c.id: c for c in diff.changed}
    assert (
        changed["M01"].breaking
        and "text" in changed["M01"].fields
        and "scale" in changed["M01"].fields
    )
    assert changed["M02"].breaking and changed["M02"].fields == ("outcomes", "scale")
    assert set(diff.breaking) == {"M01", "M02"}
    assert diff_instruments(old, old).identical


def test_outcome_remap_alone_is_comparable(folder: Path, tmp_path: Path) -> None:
    framework = load_definitions(folder).framework
    old = load_instrument(folder / "example.yaml", framework)
    data = yaml.safe_load(DESIGN_EXAMPLE)
    data["questions"][0]["outcomes"] = ["O2"]
    path = tmp_path / "remap.yaml"
    path.write_text(textwrap.dedent(yaml.safe_dump(data)))
    diff = diff_instruments(old, load_instrument(path, framework))
    assert [c.id for c in diff.changed] == ["M01"] and diff.breaking == ()
