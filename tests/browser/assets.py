"""Whether the front-end assets the pages load are built: without them every browser test
would fail later and obscurely (unstyled pages, axe colour-contrast findings, missing JS)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_COMMAND = "bash scripts/build-assets.sh"


def assets_problem(repo: Path = REPO) -> str | None:
    """What is wrong with the built assets under ``repo``, or None when they are usable: the
    compiled CSS exists, is GOV.UK Frontend's, and is newer than every SCSS source; the
    GOV.UK Frontend script exists."""
    css = repo / "survey_app" / "static" / "css" / "app.css"
    script = repo / "survey_app" / "static" / "js" / "govuk-frontend.min.js"
    sources = sorted((repo / "survey_app" / "assets").rglob("*.scss"))
    fix = (
        f"Build the assets with `{BUILD_COMMAND}` (`make test` does it), then run the tests again."
    )
    if not css.is_file() or css.stat().st_size == 0:
        return f"The CSS is not built: {css.relative_to(repo)} is missing or empty. {fix}"
    if ".govuk-button" not in css.read_text(encoding="utf-8", errors="replace"):
        return f"{css.relative_to(repo)} is not the compiled GOV.UK Frontend stylesheet. {fix}"
    newer = [s for s in sources if s.stat().st_mtime > css.stat().st_mtime]
    if newer:
        return (
            f"The CSS is out of date: {newer[0].relative_to(repo)} changed after "
            f"{css.relative_to(repo)} was built. {fix}"
        )
    if not script.is_file():
        return (
            f"The GOV.UK Frontend script is not built: {script.relative_to(repo)} is missing. {fix}"
        )
    return None
