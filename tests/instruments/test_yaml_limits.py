"""Definition files cannot exhaust the process that reads them: the "billion laughs" alias
bomb and a deeply nested file get a clear error naming the problem, in bounded memory, with
no expanded text in the message, and the process (a worker, the validator) stays alive.

Memory is measured in a subprocess of its own (peak RSS from ``resource.getrusage`` before
and after the one call), so the figure is the parse alone and a crash cannot take pytest down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from instruments import DefinitionsError, load_definitions, parse_instrument_text
from instruments.loader import MAX_NESTING, validate_paths

REPO = Path(__file__).resolve().parents[2]
# Nine levels of nine aliases: 9**9 (387 million) "lol"s once expanded, in under 501 bytes.
# As the audience, the value an error message quoted: before the alias check, that message
# was the whole expansion (the issue's 5.3 GB worker).
LAUGHS = (
    "id: laughs\ntitle: Laughs\nquestions: [{id: Q1, text: Say, type: text}]\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]\n"
        for p, x in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "audience: *i\n"
)
DEEP = "id: deep\ntitle: Deep\naudience: staff\nquestions: " + "[" * 100_000 + "]" * 100_000 + "\n"
ALLOWED_GROWTH_KB = 30_000  # peak RSS growth of the whole call, far below one expanded copy


def test_the_bomb_is_the_size_the_issue_reports() -> None:
    assert len(LAUGHS.encode()) <= 501


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        (LAUGHS, "YAML aliases (*name) are not allowed in definition files", 5),
        (DEEP, f"nested more than {MAX_NESTING} levels deep", 4),
    ],
)
def test_the_loader_names_the_problem_without_echoing_the_input(
    text: str, problem: str, line: int
) -> None:
    with pytest.raises(DefinitionsError) as caught:
        parse_instrument_text(text, "bomb.yaml", load_definitions().framework)
    (error,) = caught.value.errors
    assert error.file == "bomb.yaml" and error.line == line and problem in error.message
    assert "lol" not in str(caught.value) and "[[" not in str(caught.value)


def test_every_shipped_file_is_within_the_nesting_limit() -> None:
    checked, errors = validate_paths([REPO / "instruments" / "definitions"])
    assert checked and not errors


def test_nesting_at_the_limit_is_read_and_one_level_more_is_refused(tmp_path: Path) -> None:
    def nested(levels: int) -> str:  # a mapping of `levels` collections in all
        return "id: x\ntitle: " + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "\n"

    framework = load_definitions().framework
    with pytest.raises(DefinitionsError) as at_limit:
        parse_instrument_text(nested(MAX_NESTING), "ok.yaml", framework)
    assert "nested" not in str(at_limit.value)  # refused by the schema, not by the depth check
    with pytest.raises(DefinitionsError, match=f"nested more than {MAX_NESTING} levels deep"):
        parse_instrument_text(nested(MAX_NESTING + 1), "deep.yaml", framework)


def test_a_huge_value_is_quoted_briefly() -> None:
    text = (
        "id: x\ntitle: t\naudience: "
        + "x" * 500_000
        + "\nquestions: [{id: Q1, text: q, type: text}]\n"
    )
    with pytest.raises(DefinitionsError) as caught:
        parse_instrument_text(text, "big.yaml", load_definitions().framework)
    message = str(caught.value)
    assert "audience" in message and "is not allowed" in message and len(message) < 400


def _measured(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh Python; it prints JSON with ``rss_growth_kb`` and more."""
    prologue = textwrap.dedent("""
        import json, resource, sys
        def peak_kb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    """)
    done = subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, f"the process died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("bomb", ["laughs", "deep"])
def test_instruments_validate_refuses_the_bomb_in_bounded_memory(tmp_path: Path, bomb: str) -> None:
    path = tmp_path / f"{bomb}.yaml"
    path.write_text(LAUGHS if bomb == "laughs" else DEEP)
    result = _measured(
        """
        import io
        from instruments.__main__ import run_validate
        out, err = io.StringIO(), io.StringIO()
        before = peak_kb()
        code = run_validate([__import__("pathlib").Path(sys.argv[1])], out, err)
        print(json.dumps({"code": code, "err": err.getvalue(), "rss_growth_kb": peak_kb() - before}))
    """,
        str(path),
    )
    assert result["code"] == 1
    assert f"{bomb}.yaml:" in result["err"] and (
        "aliases" in result["err"] or "nested" in result["err"]
    )
    assert "lol" not in result["err"] and len(result["err"]) < 300
    assert result["rss_growth_kb"] < ALLOWED_GROWTH_KB


def test_the_validator_command_line_exits_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    done = subprocess.run(
        [sys.executable, "-m", "instruments", "validate", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert (
        "laughs.yaml:5: YAML aliases (*name) are not allowed" in done.stderr
        and "lol" not in done.stderr
    )


@pytest.mark.parametrize("bomb", ["laughs", "deep"])
def test_an_uploaded_bomb_is_refused_over_http_and_the_worker_stays_alive(
    tmp_path: Path, bomb: str
) -> None:
    """The admin's upload form, through the app's WSGI interface, in a process of its own."""
    path = tmp_path / f"{bomb}.yaml"
    path.write_text(LAUGHS if bomb == "laughs" else DEEP)
    result = _measured(
        """
        import io, re
        from flask_migrate import upgrade
        from survey_app.models import Role
        from tests.conftest import make_app
        from tests.survey_app.helpers import add_user, csrf, sign_in
        app = make_app("sqlite:///" + sys.argv[2])
        with app.app_context():
            upgrade()
        add_user(app, "admin@council.example", Role.ADMIN)
        client = app.test_client()
        sign_in(client, "admin@council.example")
        token = csrf(client, "/admin/instruments")
        data = open(sys.argv[1], "rb").read()
        before = peak_kb()
        response = client.post("/admin/instruments", data={
            "csrf_token": token, "file": (io.BytesIO(data), sys.argv[1].rsplit("/", 1)[-1])},
            content_type="multipart/form-data")
        growth = peak_kb() - before
        page = response.get_data(as_text=True)
        again = client.get("/admin/instruments")
        print(json.dumps({"status": response.status_code, "page": page, "rss_growth_kb": growth,
                          "alive": again.status_code}))
    """,
        str(path),
        str(tmp_path / "pulse.db"),
    )
    assert result["status"] == 400 and result["alive"] == 200
    problem = (
        "YAML aliases (*name) are not allowed"
        if bomb == "laughs"
        else f"nested more than {MAX_NESTING}"
    )
    assert f"{bomb}.yaml:" in result["page"] and problem in result["page"]
    assert "lol" not in result["page"].replace("laughs", "")
    assert result["rss_growth_kb"] < ALLOWED_GROWTH_KB


def test_the_flask_validate_command_refuses_the_bomb(runner, tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP)
    result = runner.invoke(args=["instruments", "validate", str(path)])
    assert result.exit_code == 1
    assert f"deep.yaml:4: nested more than {MAX_NESTING} levels deep" in result.output
