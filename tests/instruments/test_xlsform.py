"""Importing an XLSForm (ODK / Kobo) into our YAML, listing every row not converted."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from instruments import load_instrument
from instruments.routing import asked
from instruments.xlsform import convert

SURVEY = [
    ["type", "name", "label", "label::Polish (pl)", "hint", "relevant", "required", "constraint"],
    ["start", "start", "", "", "", "", "", ""],
    ["begin group", "use", "Services you use", "", "", "", "", ""],
    [
        "select_one yn",
        "library",
        "Have you used the library?",
        "Czy korzystałeś z biblioteki?",
        "",
        "",
        "yes",
        "",
    ],
    [
        "select_one sat",
        "library_sat",
        "How satisfied are you with the library?",
        "",
        "",
        "${library} = 'yes'",
        "",
        "",
    ],
    ["end group", "", "", "", "", "", "", ""],
    [
        "select_multiple svc",
        "services",
        "Which services have you used?",
        "",
        "Tick all",
        "",
        "",
        "",
    ],
    [
        "integer",
        "visits",
        "How many visits?",
        "",
        "",
        "selected(${services}, 'parks') and not(${library} = 'no')",
        "",
        ". >= 0 and . <= 50",
    ],
    ["decimal", "spend", "How much did you spend?", "", "", "${visits} > 2", "", ""],
    ["note", "thanks", "Thank you", "", "", "", "", ""],
    ["geopoint", "where", "Where are you?", "", "", "", "", ""],
    ["text", "comment", "Anything else?", "", "", "string-length(${comment}) > 3", "", ""],
    ["rank zz", "ranked", "Rank these", "", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label", "label::Polish (pl)"],
    ["yn", "yes", "Yes", "Tak"],
    ["yn", "no", "No", "Nie"],
    ["sat", "1", "Dissatisfied", ""],
    ["sat", "2", "Neither", ""],
    ["sat", "3", "Satisfied", ""],
    ["svc", "parks", "Parks", "Parki"],
    ["svc", "bins", "Bins", ""],
    ["svc", "none", "None of these", ""],
]


def _form(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in SURVEY:
        sheet.append(row)
    choices = book.create_sheet("choices")
    for row in CHOICES:
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id"])
    settings.append(["Library survey", "library-survey"])
    book.save(path)
    return path


def test_an_xlsform_converts_with_routing_types_and_translations(tmp_path: Path) -> None:
    result = convert(_form(tmp_path / "form.xlsx"), audience="residents")
    data = result.instrument
    assert data["id"] == "library-survey" and data["title"] == "Library survey"
    q = {item["id"]: item for item in data["questions"]}
    assert q["library"]["type"] == "choice" and q["library"]["choices"] == ["Yes", "No"]
    assert q["library"]["required"] and q["library"]["section"] == "Services you use"
    # a condition on the same page starts the next page of the group
    assert q["library_sat"]["show_if"] == {"question": "library", "in": ["Yes"]}
    assert q["library_sat"]["section"] == "Services you use (part 2)"
    assert q["services"]["type"] == "multi" and q["services"]["exclusive"] == ["None of these"]
    assert q["visits"]["show_if"] == {
        "all": [
            {"question": "services", "in": ["Parks"]},
            {"not": {"question": "library", "in": ["No"]}},
        ]
    }
    assert q["visits"]["integer"] and (q["visits"]["min"], q["visits"]["max"]) == (0, 50)
    assert q["spend"]["type"] == "number" and q["spend"]["show_if"] == {
        "question": "visits",
        "at_least": 3,
    }
    assert data["translations"]["pl"]["questions"]["library"] == {
        "text": "Czy korzystałeś z biblioteki?",
        "choices": {"Yes": "Tak", "No": "Nie"},
    }
    reasons = "\n".join(result.skipped)
    for row, name in ((2, "start"), (10, "thanks"), (11, "where"), (13, "ranked")):
        assert f"survey row {row} ({name})" in reasons
    assert "string-length" in reasons and "comment" in reasons  # converted without the condition
    assert "comment" in q and "show_if" not in q["comment"]


def test_import_command_writes_a_valid_instrument(runner, tmp_path: Path) -> None:
    form = _form(tmp_path / "form.xlsx")
    out = tmp_path / "defs"
    result = runner.invoke(
        args=[
            "instruments",
            "import-xlsform",
            str(form),
            "--out",
            str(out),
            "--audience",
            "residents",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "not converted  survey row 11 (where)" in result.output
    instrument = load_instrument(out / "library-survey.yaml")
    kept, not_asked = asked(instrument, {"library": "No", "library_sat": "3", "services": "1"})
    assert "library_sat" in not_asked and "visits" in not_asked and "library_sat" not in kept


def test_a_file_that_is_not_an_xlsform_is_refused(runner, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "data"
    book.save(tmp_path / "other.xlsx")
    result = runner.invoke(
        args=[
            "instruments",
            "import-xlsform",
            str(tmp_path / "other.xlsx"),
            "--out",
            str(tmp_path / "d"),
            "--audience",
            "staff",
        ]
    )
    assert result.exit_code != 0 and "no 'survey' sheet" in result.output
    assert not (tmp_path / "d").exists()
    with pytest.raises(ValueError, match="not a readable"):
        convert(tmp_path / "missing.xlsx", audience="staff")
