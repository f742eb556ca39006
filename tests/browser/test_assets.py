"""The browser tests' check that the assets are built (no browser needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .assets import BUILD_COMMAND, REPO, assets_problem


def _repo(
    tmp_path: Path, css: str | None = ".govuk-button{color:red}", script: bool = True
) -> Path:
    (tmp_path / "survey_app" / "assets" / "scss").mkdir(parents=True)
    scss = tmp_path / "survey_app" / "assets" / "scss" / "app.scss"
    scss.write_text("@use 'govuk-frontend/dist/govuk';\n")
    os.utime(scss, (1_000_000, 1_000_000))
    static = tmp_path / "survey_app" / "static"
    (static / "css").mkdir(parents=True)
    (static / "js").mkdir()
    if css is not None:
        (static / "css" / "app.css").write_text(css)
    if script:
        (static / "js" / "govuk-frontend.min.js").write_text("export{}")
    return tmp_path


@pytest.mark.parametrize(
    ("layout", "says"),
    [
        ({"css": None}, "The CSS is not built: survey_app/static/css/app.css is missing or empty."),
        ({"css": ""}, "The CSS is not built"),
        ({"css": "body{}"}, "is not the compiled GOV.UK Frontend stylesheet"),
        ({"script": False}, "survey_app/static/js/govuk-frontend.min.js is missing"),
    ],
)
def test_missing_or_wrong_assets_are_named_with_the_command_that_builds_them(
    tmp_path, layout, says
) -> None:
    problem = assets_problem(_repo(tmp_path, **layout))
    assert problem is not None and says in problem and BUILD_COMMAND in problem


def test_css_older_than_its_sources_is_out_of_date(tmp_path) -> None:
    repo = _repo(tmp_path)
    assert assets_problem(repo) is None
    os.utime(repo / "survey_app" / "assets" / "scss" / "app.scss")  # edited just now
    problem = assets_problem(repo)
    assert problem is not None and "out of date: survey_app/assets/scss/app.scss changed" in problem


def test_this_checkout_has_its_assets_built() -> None:
    assert assets_problem(REPO) is None
