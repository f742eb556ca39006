"""The comment codebook and the redaction settings: format, validation errors, versions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from instruments import (
    SHIPPED_DIR,
    DefinitionsError,
    load_codebook,
    load_definitions,
    load_redaction,
    version_of,
)

CODEBOOK = {
    "title": "Test codebook",
    "themes": [
        {
            "id": "budget",
            "label": "Money",
            "outcomes": ["O10"],
            "include": ["budget*", "council tax"],
            "exclude": ["re:\\bsavings? of time\\b"],
            "examples": ["Council tax keeps going up."],
        },
        {
            "id": "systems",
            "label": "IT",
            "description": "Computers and software",
            "include": ["laptop*", "re:\\b(?-i:IT)\\b"],
        },
    ],
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(SHIPPED_DIR / "framework.yaml", tmp_path / "framework.yaml")
    (tmp_path / "codebook.yaml").write_text(
        yaml.safe_dump(CODEBOOK, sort_keys=False), encoding="utf-8"
    )
    return tmp_path


def _write(folder: Path, data: dict, name: str = "codebook.yaml") -> None:
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _errors(folder: Path) -> list:
    with pytest.raises(DefinitionsError) as caught:
        load_codebook(folder)
    return caught.value.errors


def test_shipped_codebook_and_redaction_load_with_the_definitions() -> None:
    definitions = load_definitions()
    codebook = definitions.codebook
    assert codebook is not None and len(codebook.themes) >= 10
    outcomes = set(definitions.framework.outcome_ids)
    assert all(set(t.outcomes) <= outcomes and t.outcomes for t in codebook.themes)
    assert definitions.redaction.safeguarding and "codebook.yaml" not in {
        p.name for p in definitions.files.values()
    }
    assert load_codebook(SHIPPED_DIR) == codebook


def test_codebook_loads_and_is_not_an_instrument(folder: Path) -> None:
    codebook = load_codebook(folder / "codebook.yaml")
    assert codebook.theme_ids == ["budget", "systems"]
    assert codebook.theme("systems").description == "Computers and software"
    definitions = load_definitions(folder)
    assert definitions.codebook == codebook and definitions.instruments == {}
    assert definitions.redaction.names == []


def test_a_folder_without_a_codebook(tmp_path: Path) -> None:
    shutil.copy(SHIPPED_DIR / "framework.yaml", tmp_path / "framework.yaml")
    assert load_definitions(tmp_path).codebook is None
    with pytest.raises(DefinitionsError, match="no such file"):
        load_codebook(tmp_path)


def test_version_ignores_formatting_and_changes_with_rules(folder: Path, tmp_path: Path) -> None:
    first = version_of(load_codebook(folder))
    text = (folder / "codebook.yaml").read_text()
    (folder / "codebook.yaml").write_text("# a comment\n" + text.replace("title:", "title:  "))
    assert version_of(load_codebook(folder)) == first and len(first) == 64
    changed = yaml.safe_load(text)
    changed["themes"][0]["include"].append("savings")
    _write(folder, changed)
    assert version_of(load_codebook(folder)) != first


def _mutated(mutate) -> dict:
    data = yaml.safe_load(yaml.safe_dump(CODEBOOK))
    mutate(data)
    return data


BROKEN = {
    "unknown outcome": (
        lambda d: d["themes"][0]["outcomes"].append("O77"),
        "themes[0].outcomes[1]",
        "unknown outcome id 'O77'",
    ),
    "bad regex": (
        lambda d: d["themes"][1]["include"].append("re:(council tax"),
        "themes[1].include[2]",
        "bad regular expression 're:(council tax': missing ), unterminated subpattern",
    ),
    "duplicate theme id": (
        lambda d: d["themes"][1].update(id="budget"),
        "themes[1].id",
        "duplicate theme id 'budget'",
    ),
    "unknown key": (
        lambda d: d["themes"][0].update(inclde=["x"]),
        "themes[0].inclde",
        "unknown key 'inclde'",
    ),
    "no include": (
        lambda d: d["themes"][0].pop("include"),
        "themes[0].include",
        "required key 'include' is missing",
    ),
    "matches everything": (
        lambda d: d["themes"][0]["exclude"].append("re:x*"),
        "themes[0].exclude[1]",
        "matches empty text",
    ),
    "duplicate pattern": (
        lambda d: d["themes"][0]["include"].append("Budget*"),
        "themes[0].include[2]",
        "duplicate pattern 'Budget*'",
    ),
    "no themes": (lambda d: d.update(themes=[]), "themes", "at least 1 item"),
    "bad id": (lambda d: d["themes"][0].update(id="money matters"), "themes[0].id", "pattern"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_codebook_names_file_path_line_and_problem(folder: Path, kind: str) -> None:
    mutate, path, problem = BROKEN[kind]
    _write(folder, _mutated(mutate))
    errors = _errors(folder)
    assert any(
        e.file == "codebook.yaml" and e.path == path and problem in e.message and e.line
        for e in errors
    ), [str(e) for e in errors]


def test_a_broken_codebook_stops_the_definitions_loading(folder: Path) -> None:
    _write(folder, _mutated(lambda d: d["themes"][0]["outcomes"].append("O77")))
    with pytest.raises(DefinitionsError, match="codebook.yaml:.*unknown outcome id 'O77'"):
        load_definitions(folder)


def test_redaction_settings(folder: Path) -> None:
    _write(
        folder,
        {"names": ["Sarah Whitfield", "Patel"], "safeguarding": ["whistleblowing"]},
        "redaction.yaml",
    )
    settings = load_redaction(folder)
    assert settings.names == ["Sarah Whitfield", "Patel"] and settings.safeguarding == [
        "whistleblowing"
    ]
    assert load_definitions(folder).redaction == settings
    _write(folder, {"names": ["Patel", "PATEL"], "safeguard": []}, "redaction.yaml")
    with pytest.raises(DefinitionsError) as caught:
        load_redaction(folder / "redaction.yaml")
    messages = {(e.path, e.message) for e in caught.value.errors}
    assert ("names[1]", "'PATEL' is listed twice") in messages
    assert ("safeguard", "unknown key 'safeguard'") in messages


def test_validate_command_checks_codebook_and_redaction_files(folder: Path) -> None:
    def validate(*paths: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "instruments", "validate", *map(str, paths)],
            capture_output=True,
            text=True,
            check=False,
        )

    ok = validate(folder, folder / "codebook.yaml", SHIPPED_DIR / "redaction.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "codebook with 2 themes" in ok.stdout and "safeguarding signals" in ok.stdout
    _write(folder, _mutated(lambda d: d["themes"][1]["include"].append("re:[abc")))
    broken = validate(folder / "codebook.yaml")
    assert (
        broken.returncode == 1
        and "themes[1].include[2]: bad regular expression 're:[abc'" in broken.stderr
    )
