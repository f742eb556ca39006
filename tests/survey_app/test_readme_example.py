"""The README's worked analysis example, run as written on the demo council after its live
resident wave has been answered (three respondents, one choosing "Prefer not to say"): the
commands succeed and give the table the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from analysis.cli import main as pulse_analysis
from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.extensions import db
from survey_app.models import InstrumentVersion, Wave
from tests.conftest import REPO

from .survey_helpers import answer_pages, full_answers, release_all, send

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("### Worked example on the demo data") :]


def _commands() -> list[str]:
    """The shell block of the worked example, continuation lines joined."""
    block = re.search(r"```sh\n(.*?)```", SECTION, re.DOTALL).group(1)
    return [
        line.split("  #")[0].strip()
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip()
    ]


def _table() -> list[list[str]]:
    rows = re.findall(r"^\| (20\d\d-Q\d) \|(.*)\|$", SECTION, re.MULTILINE)
    return [[wave] + [cell.strip() for cell in cells.split("|")] for wave, cells in rows]


def _answer_the_live_resident_wave(app) -> None:
    with app.app_context():
        wave = db.session.scalar(
            select(Wave)
            .join(InstrumentVersion)
            .where(
                InstrumentVersion.instrument_id == "resident-perception", Wave.label == "2026-Q4"
            )
        )
        slug, instrument = wave.slug, wave.instrument_version.instrument
    for seed in range(3):
        answers = full_answers(instrument, seed=seed)
        if seed == 0:
            answers["age_band"] = "Prefer not to say"
        respondent = app.test_client()
        assert (
            send(respondent, slug, answer_pages(respondent, slug, instrument, answers)).status_code
            == 303
        )
    release_all(app)  # web answers are held until a release (the `holding` branch)


@pytest.fixture
def demo_folder(app, tmp_path: Path, monkeypatch) -> Path:
    with app.app_context():
        seed_demo(load_definitions(), seed=2026)  # the seed `make demo` uses
    _answer_the_live_resident_wave(app)
    (tmp_path / "instruments").symlink_to(REPO / "instruments")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_worked_example_runs_as_written_and_gives_the_readme_table(
    app, demo_folder: Path
) -> None:
    commands = _commands()
    assert [c.split()[0] for c in commands] == [
        "make",
        "export",
        ".venv/bin/flask",
        "printf",
        ".venv/bin/pulse-analysis",
    ]
    flask_args = shlex.split(commands[2])[1:]
    exported = app.test_cli_runner().invoke(args=flask_args)
    assert exported.exit_code == 0, exported.output
    assert "2026-Q4" in set(
        pd.read_csv("demo.csv", dtype=str)["wave"]
    )  # the live answers are in it
    subprocess.run(["bash", "-c", commands[3]], check=True)
    assert pulse_analysis(shlex.split(commands[4])[1:]) == 0

    indicators = pd.read_csv("results/indicators.csv")
    changes = pd.read_csv("results/changes.csv")

    def o12(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[
            (frame["level"] == "outcome")
            & (frame["id"] == "O12")
            & (frame["audience"] == "residents")
            & (frame["instrument"] == "resident-perception")  # not the services survey's
            & frame["by"].isna()
        ]

    figures = o12(indicators).set_index("wave")
    moves = o12(changes).set_index("wave_to")
    table = _table()
    assert [row[0] for row in table] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    for wave, n, percent, ci, change, p_adj, significant, mdc in table:
        row = figures.loc[wave]
        assert (int(n), percent, ci) == (
            int(row["n"]),
            f"{row['estimate']:.1f}",
            f"{row['ci_low']:.1f}–{row['ci_high']:.1f}",
        ), wave
        if wave == "2025-Q4":
            assert change == p_adj == significant == mdc == ""
            continue
        move = moves.loc[wave]
        assert (change, p_adj, significant, mdc) == (
            f"{move['change']:+.1f}",
            f"{move['p_adj']:.3f}",
            "yes" if move["significant"] else "no",
            f"{move['mdc']:.1f}",
        ), wave


def test_the_python_example_runs_as_written(app, demo_folder: Path) -> None:
    assert (
        app.test_cli_runner().invoke(args=["export", "responses", "--out", "demo.csv"]).exit_code
        == 0
    )
    subprocess.run(["bash", "-c", _commands()[3]], check=True)
    code = re.search(r"```python\n(.*?)```", SECTION, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    indicators = namespace["results"].indicators
    assert set(indicators["wave"]) == {"2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"}
