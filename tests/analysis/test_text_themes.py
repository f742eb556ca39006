"""Theme tables in ``analysis.run`` and ``pulse-analysis``: counts, shares, sentiment, change,
suppression by respondents, and redaction of every comment before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis.cli import main as cli_main
from analysis.responses import prepare
from analysis.text.sentiment import compound_score
from analysis.text.themes import THEME_COLUMNS
from instruments import SHIPPED_DIR, load_definitions

AGREE5 = {
    "labels": ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"],
    "positive": [4, 5],
}
CODEBOOK = {
    "themes": [
        {
            "id": "bins",
            "label": "Bins and waste",
            "outcomes": ["O12"],
            "include": ["bin*", "rubbish"],
        },
        {
            "id": "money",
            "label": "Money",
            "outcomes": ["O10"],
            "include": ["council tax", "money"],
            "exclude": ["no money worries"],
        },
    ]
}
INSTRUMENT = {
    "id": "pulse",
    "title": "Pulse",
    "audience": "staff",
    "scales": {"agree5": AGREE5},
    "questions": [
        {"id": "Q1", "text": "One", "scale": "agree5", "outcomes": ["O1"]},
        {"id": "T1", "type": "text", "text": "Say more"},
        {"id": "T2", "type": "text", "text": "Anything else?"},
    ],
}
EXPECTED_HEADER = (
    "instrument,audience,wave,by,group,theme,label,n_respondents,n_comments,count,"
    "share,sentiment_mean,change_share,n_commenting,respondents,share_commenting,ci_low,ci_high,"
    "change_commenting,p_value,p_adj,significant,suppressed"
)


def definitions_folder(tmp_path: Path, min_comment_group_size: int) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir(parents=True)
    framework = yaml.safe_load((SHIPPED_DIR / "framework.yaml").read_text())
    framework["min_comment_group_size"] = min_comment_group_size
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework))
    (folder / "pulse.yaml").write_text(yaml.safe_dump(INSTRUMENT))
    (folder / "codebook.yaml").write_text(yaml.safe_dump(CODEBOOK))
    (folder / "redaction.yaml").write_text(yaml.safe_dump({"names": ["Whitfield"]}))
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Suppression by commenting respondents off (1), so these tests see the respondent rule;
    tests/analysis/test_theme_shares.py covers ``min_comment_group_size``."""
    return definitions_folder(tmp_path, 1)


def frame_of(rows: list[tuple]) -> pd.DataFrame:
    """rows: (wave, team, T1, T2)."""
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(rows))],
            "instrument": "pulse",
            "audience": "staff",
            "wave": [r[0] for r in rows],
            "Q1": "4",
            "team": [r[1] for r in rows],
            "T1": [r[2] for r in rows],
            "T2": [r[3] for r in rows],
        }
    )


def sample_rows() -> list[tuple]:
    rows = []
    # W1: team a 12 respondents, team b 12, team c 4
    rows += [("W1", "a", "Bins are never emptied", "Council tax is too high")] * 3
    rows += [("W1", "a", "Great money management", None)] * 2 + [("W1", "a", None, None)] * 7
    rows += [("W1", "b", "Rubbish everywhere, awful", None)] * 4 + [("W1", "b", "", None)] * 8
    rows += [("W1", "c", "No money worries, bins fine", None)] * 4
    # W2: team a 12, team b 12, team c 12
    rows += [("W2", "a", "Lovely clean bins", None)] * 6 + [("W2", "a", None, None)] * 6
    rows += [("W2", "b", "Council tax wasted, terrible", None)] * 6 + [("W2", "b", None, None)] * 6
    rows += [("W2", "c", "Nothing to add", None)] * 12
    return rows


def test_theme_counts_shares_sentiment_and_change(folder: Path) -> None:
    results = analysis.run(frame_of(sample_rows()), folder, by=["team"], min_n=10)
    themes = results.themes
    assert list(themes.columns) == THEME_COLUMNS
    whole = themes[themes["by"].isna()].set_index(["wave", "theme"])
    w1 = whole.loc[("W1", "bins")]
    # W1 comments: 3x2 (team a, two questions) + 2 + 4 + 4 = 16; bins: 3 + 4 (rubbish) + 4 = 11
    assert (w1["n_respondents"], w1["n_comments"], w1["count"]) == (28, 16, 11)
    assert w1["share"] == pytest.approx(100 * 11 / 16)  # percentages, as in every table
    expected = np.mean(
        [compound_score("Bins are never emptied")] * 3
        + [compound_score("Rubbish everywhere, awful")] * 4
        + [compound_score("No money worries, bins fine")] * 4
    )
    assert w1["sentiment_mean"] == pytest.approx(expected)
    assert np.isnan(w1["change_share"]) and w1["label"] == "Bins and waste"
    money1 = whole.loc[("W1", "money")]
    assert money1["count"] == 5  # "no money worries" is vetoed
    w2 = whole.loc[("W2", "bins")]
    assert (w2["n_respondents"], w2["n_comments"], w2["count"]) == (36, 24, 6)
    assert w2["change_share"] == pytest.approx(100 * (6 / 24 - 11 / 16))
    assert whole.loc[("W2", "money"), "change_share"] == pytest.approx(100 * (6 / 24 - 5 / 16))
    assert themes["theme"].tolist()[:4] == ["bins", "bins", "money", "money"]


def test_groups_are_suppressed_by_respondents_with_their_complement(folder: Path) -> None:
    themes = analysis.run(frame_of(sample_rows()), folder, by=["team"], min_n=10).themes
    groups = themes[themes["by"] == "team"].set_index(["wave", "group", "theme"]).sort_index()
    # W1 team c has 4 respondents: suppressed, and the next smallest group (a or b, 12) too
    assert groups.loc[("W1", "c"), "suppressed"].all()
    w1 = groups.xs("W1", level="wave")
    assert w1["suppressed"].groupby(level="group").all().sum() == 2
    hidden = groups[groups["suppressed"]]
    assert (
        hidden[["n_respondents", "n_comments", "count", "share", "sentiment_mean", "change_share"]]
        .isna()
        .all()
        .all()
    )
    # W2: every group has 12 respondents (team a has only 6 comments: n is respondents)
    assert not groups.xs("W2", level="wave")["suppressed"].any()
    assert groups.loc[("W2", "a", "bins"), "n_comments"] == 6
    # a change next to a suppressed wave is blank
    assert np.isnan(groups.loc[("W2", "c", "bins"), "change_share"])
    b = groups.loc[("W2", "b", "money")]
    previous = groups.loc[("W1", "b", "money")]
    assert np.isnan(b["change_share"]) == bool(previous["suppressed"])
    whole = themes[themes["by"].isna()]
    assert not whole["suppressed"].any()


def test_comments_are_redacted_before_anything_else(folder: Path) -> None:
    frame = frame_of([("W1", "a", "Ring Ms Whitfield on 07700 900123 or jo@x.org", "SS17 0AB")] * 2)
    definitions = load_definitions(folder)
    prepared = prepare(frame, definitions.instrument("pulse"), names=definitions.redaction.names)
    assert prepared.frame["T1"].tolist() == ["Ring Ms [name] on [phone] or [email]"] * 2
    assert prepared.frame["T2"].tolist() == ["[postcode]"] * 2
    assert frame.loc[0, "T1"].startswith("Ring Ms Whitfield")  # the caller's frame is untouched


def test_no_codebook_means_an_empty_theme_table(folder: Path, tmp_path: Path) -> None:
    (folder / "codebook.yaml").unlink()
    results = analysis.run(frame_of(sample_rows()), folder, min_n=10)
    assert results.themes.empty and list(results.themes.columns) == THEME_COLUMNS
    results.write(tmp_path / "out")
    assert (tmp_path / "out" / "themes.csv").read_text().strip() == EXPECTED_HEADER


def test_cli_writes_themes_csv(folder: Path, tmp_path: Path) -> None:
    csv = tmp_path / "responses.csv"
    frame_of(sample_rows()).to_csv(csv, index=False)
    out = tmp_path / "out"
    code = cli_main(
        [
            "indicators",
            "--responses",
            str(csv),
            "--instruments",
            str(folder),
            "--by",
            "team",
            "--min-n",
            "10",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = (out / "themes.csv").read_text()
    assert text.splitlines()[0] == EXPECTED_HEADER
    table = pd.read_csv(out / "themes.csv", dtype=str, keep_default_na=False)
    assert set(table["suppressed"]) == {"true", "false"}
    assert set(table["theme"]) == {"bins", "money"}


def test_shipped_codebook_on_the_demo_comments() -> None:
    from analysis.synthetic import synthetic_responses
    from analysis.text.samples import DEMO_COMMENTS

    definitions = load_definitions()
    frames = [
        synthetic_responses(
            i, ["2026-Q1", "2026-Q2"], 80, seed=k, comments=DEMO_COMMENTS.get(i.audience, ())
        )
        for k, i in enumerate(definitions.instruments.values())
    ]
    themes = analysis.run(
        pd.concat(frames, ignore_index=True), definitions, by=["directorate"]
    ).themes
    assert set(themes["instrument"]) == set(definitions.instruments)
    assert set(themes["theme"]) == set(definitions.codebook.theme_ids)
    shown = themes[~themes["suppressed"] & themes["by"].isna()]
    assert (shown["count"] > 0).any() and shown["share"].between(0, 100).all()


# --------------------------------------------------------------------------- property

LOCAL = st.from_regex(r"[a-z][a-z0-9._-]{0,10}[a-z0-9]", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]\.(co\.uk|org|com|gov\.uk)", fullmatch=True)
EMAILS = st.builds(lambda u, d: f"{u}@{d}", LOCAL, DOMAIN)
PHONES = st.builds(
    lambda p, number, sep: f"{p}{number[0]}{sep}{number[1]}",
    st.sampled_from(["0", "+44 ", "+44 (0)", "0044 "]),
    st.one_of(
        st.tuples(
            st.from_regex(r"(7[0-9]{3}|1[0-9]{3})", fullmatch=True),
            st.from_regex(r"[0-9]{6}", fullmatch=True),
        ),
        st.tuples(st.just("20"), st.from_regex(r"[0-9]{4} [0-9]{4}", fullmatch=True)),
    ),
    st.sampled_from([" ", "-", "", " - "]),
)
PROSE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@settings(
    deadline=None, max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    comments=st.lists(st.tuples(PROSE, st.one_of(EMAILS, PHONES), PROSE), min_size=1, max_size=12)
)
def test_no_email_or_phone_survives_in_any_output(folder, tmp_path_factory, comments) -> None:
    tmp = tmp_path_factory.mktemp("cli")
    texts = [f"{a} {secret} {b}" for a, secret, b in comments]
    rows = [
        ("W1" if k % 2 else "W2", "a", texts[k % len(texts)], texts[(k + 1) % len(texts)])
        for k in range(24)
    ]
    csv = tmp / "responses.csv"
    frame_of(rows).to_csv(csv, index=False)
    out = tmp / "out"
    assert (
        cli_main(
            [
                "indicators",
                "--responses",
                str(csv),
                "--instruments",
                str(folder),
                "--by",
                "team",
                "--min-n",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    written = "\n".join(p.read_text() for p in sorted(out.glob("*.csv")))
    assert "themes.csv" in {p.name for p in out.glob("*.csv")}
    definitions = load_definitions(folder)
    prepared = prepare(
        frame_of(rows), definitions.instrument("pulse"), names=definitions.redaction.names
    )
    kept = "\n".join(prepared.frame["T1"].tolist() + prepared.frame["T2"].tolist())
    for _, secret, _ in comments:
        assert secret not in written and secret not in kept
        assert re.sub(r"\D", "", secret) not in written.replace(" ", "") or "@" in secret
