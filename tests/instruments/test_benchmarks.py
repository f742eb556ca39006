"""External benchmarks: the shipped LGA entries, the matching rule and the file's errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from instruments import (
    SHIPPED_DIR,
    Benchmark,
    DefinitionsError,
    compare,
    comparisons_for,
    load_definitions,
    normalise,
)

RESIDENTS = load_definitions().instruments["resident-perception"]
P01 = next(q for q in RESIDENTS.questions if q.id == "P01")
SATISFIED5 = list(RESIDENTS.scale_of(P01).labels)


def _benchmark(question: str, scale: list[str] | str) -> Benchmark:
    return Benchmark.model_validate(
        {
            "id": "b",
            "title": "Satisfied with the council",
            "source": {"publisher": "P", "title": "T", "url": "https://example.org/t"},
            "population": "adults",
            "mode": "online",
            "question": question,
            "scale": scale,
            "figures": [{"period": "2025", "value": 50}],
        }
    )


def test_normalise_folds_case_and_drops_punctuation_and_whitespace() -> None:
    assert normalise("  Don't   KNOW. ") == normalise("dont know") == "dontknow"
    assert normalise("How satisfied – or not?") == normalise("how satisfied or not")
    assert normalise("Council’s plan") == normalise("councils plan")
    assert normalise("trust") != normalise("distrust")


def test_same_wording_and_scale_match_whatever_the_case_punctuation_or_order() -> None:
    shouted = P01.text.upper().replace(",", "").replace("?", " ?")
    for scale in (SATISFIED5, SATISFIED5[::-1], [label.lower() for label in SATISFIED5]):
        comparison = compare(_benchmark(shouted, scale), RESIDENTS, P01)
        assert comparison.matched and comparison.label == "same question and scale"
        assert comparison.differences == ()


def test_a_different_wording_is_indicative_with_both_wordings() -> None:
    theirs = "Overall, how satisfied or dissatisfied are you with the way your local council runs things?"
    comparison = compare(_benchmark(theirs, SATISFIED5), RESIDENTS, P01)
    assert not comparison.matched and comparison.label == "indicative"
    assert comparison.differences == ("the question is worded differently",)
    assert comparison.our_wording == P01.text and comparison.benchmark.question == theirs


def test_a_different_scale_is_indicative() -> None:
    other = ["Very satisfied", "Satisfied", "Neither", "Dissatisfied", "Very dissatisfied"]
    comparison = compare(_benchmark(P01.text, other), RESIDENTS, P01)
    assert comparison.differences == ("the answer scale is different",)
    shuffled = [SATISFIED5[1], SATISFIED5[0], *SATISFIED5[2:]]
    assert compare(_benchmark(P01.text, shuffled), RESIDENTS, P01).label == "indicative"


def test_wording_not_recorded_is_always_indicative() -> None:
    comparison = compare(_benchmark("not recorded", "Not recorded"), RESIDENTS, P01)
    assert comparison.differences == (
        "the published question wording is not recorded here",
        "the published answer scale is not recorded here",
    )
    with pytest.raises(ValueError, match="not recorded"):
        _benchmark(P01.text, "five point scale")


def test_only_scale_questions_are_compared() -> None:
    comment = next(q for q in RESIDENTS.questions if q.type == "text")
    with pytest.raises(ValueError, match="not a scale question"):
        compare(_benchmark(P01.text, SATISFIED5), RESIDENTS, comment)


def test_shipped_lga_entries_are_as_published_and_indicative() -> None:
    benchmarks = {b.id: b for b in load_definitions().benchmarks}
    figures = {key: [(f.period, f.value) for f in b.figures] for key, b in benchmarks.items()}
    periods = ["February 2021", "July 2020", "June 2018"]
    assert figures == {
        "lga-satisfied": list(zip(periods, [67, 75, 61], strict=True)),
        "lga-value-for-money": list(zip(periods, [52, 57, 45], strict=True)),
        "lga-trust": list(zip(periods, [66, 71, 56], strict=True)),
        "lga-informed": list(zip(periods, [67, 69, 53], strict=True)),
        "lga-acts-on-concerns": list(zip(periods, [61, 68, 53], strict=True)),
    }
    for benchmark in benchmarks.values():
        assert benchmark.source.note == "as published by the LGA, not re-checked here"
        assert benchmark.mode == "telephone" and "1,000 British adults" in benchmark.population
        assert benchmark.source.url.startswith("https://www.local.gov.uk/")
        (target,) = benchmark.compare_with
        (comparison,) = [
            c
            for c in comparisons_for([benchmark], RESIDENTS, target.question)
            if c.benchmark is benchmark
        ]
        assert comparison.label == "indicative"  # the LGA wording is not recorded
    assert [
        c.benchmark.id for c in comparisons_for(list(benchmarks.values()), RESIDENTS, "P03")
    ] == ["lga-trust"]
    assert comparisons_for(list(benchmarks.values()), RESIDENTS, "P06") == []


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "definitions"
    shutil.copytree(SHIPPED_DIR, target)
    return target


BENCHMARK_FILE = """\
benchmarks:
  - id: lga-satisfied
    title: Satisfied
    source:
      publisher: LGA
      title: Polling
      url: https://www.local.gov.uk/x
    population: adults
    mode: telephone
    question: not recorded
    scale: not recorded
    figures:
      - {period: February 2021, value: 67}
      - {period: July 2020, value: 75}
    compare_with:
      - {instrument: resident-perception, question: P01}
"""


def test_the_test_file_itself_loads(folder: Path) -> None:
    (folder / "benchmarks.yaml").write_text(BENCHMARK_FILE, encoding="utf-8")
    assert [b.id for b in load_definitions(folder).benchmarks] == ["lga-satisfied"]


@pytest.mark.parametrize(
    "old, new, line, problem",
    [
        ("    mode:", "    modee:", 9, "unknown key 'modee'"),
        ("question: P01}", "question: P99}", 16, "has no scale question 'P99'"),
        ("question: P01}", "question: P90}", 16, "has no scale question 'P90'"),  # free text
        ("instrument: resident-perception", "instrument: nope", 16, "unknown instrument 'nope'"),
        ("value: 75}", "value: 750}", 14, "less than or equal to 100"),
        ("url: https://www.local.gov.uk/x", "url: local.gov.uk", 7, "should match pattern"),
    ],
)
def test_a_bad_benchmarks_file_names_the_file_and_line(
    folder: Path, old: str, new: str, line: int, problem: str
) -> None:
    (folder / "benchmarks.yaml").write_text(BENCHMARK_FILE.replace(old, new), encoding="utf-8")
    with pytest.raises(DefinitionsError) as raised:
        load_definitions(folder)
    errors = [e for e in raised.value.errors if problem in e.message]
    assert len(errors) == 1, raised.value.errors
    assert errors[0].file == "benchmarks.yaml" and errors[0].line == line, str(errors[0])
