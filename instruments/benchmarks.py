"""External benchmarks (``benchmarks.yaml``) and the rule that says whether one is comparable
with a question of ours.

A benchmark is a published figure for a question asked elsewhere (the LGA's national polling
on resident satisfaction, say): its source (publisher, title, address), the population and
mode of the survey, whether "don't know" answers were in the base, the exact question
wording and answer scale, and the figures by period. ``compare_with`` names the questions of
ours it is to be shown beside.

It is **matched** only when both wordings agree after :func:`normalise` (case folded,
punctuation and whitespace removed): the question text, and the scale's labels in the same
order (either direction, since some publishers list the positive end first). Anything else
-- a different wording, a different scale, or a wording the file marks ``not recorded`` -- is
**indicative**, shown with both wordings and what differs. A benchmark is context for a
reader; it never enters a measure's status.

The file is validated like every definition file: unknown keys are errors, and every
problem names the file, the line and the path inside it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from .schema import Identifier, Instrument, Question, Text, _no_duplicates, _Strict

#: How the file marks a wording (question or scale) the publisher's report did not give us.
NOT_RECORDED = "not recorded"

Address = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^https?://\S+$", max_length=500)
]


def normalise(text: str) -> str:
    """``text`` for comparison: case folded (:meth:`str.casefold`), with every punctuation
    character (Unicode category P*) and all whitespace removed, so "Don't know." and
    "dont  know" compare equal."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFKC", text).casefold()
        if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


class Source(_Strict):
    publisher: Text
    title: Text
    url: Address
    #: e.g. "as published by the LGA, not re-checked here"
    note: Text | None = None


class Figure(_Strict):
    period: Text
    value: float = Field(ge=0, le=100)  # a percentage


class Target(_Strict):
    """A question of ours the benchmark is shown beside."""

    instrument: Identifier
    question: Identifier

    @model_validator(mode="after")
    def _known(self, info: ValidationInfo) -> Target:
        questions = (info.context or {}).get("questions")
        if questions is None:
            return self
        if self.instrument not in questions:
            known = ", ".join(sorted(questions)) or "none"
            raise ValueError(f"unknown instrument {self.instrument!r} (known: {known})")
        if self.question not in questions[self.instrument]:
            raise ValueError(
                f"instrument {self.instrument!r} has no scale question {self.question!r}"
            )
        return self


class Benchmark(_Strict):
    """One published figure series. ``question`` and ``scale`` are the publisher's wording,
    or ``not recorded``; ``dont_know_in_base`` is ``null`` when the report does not say."""

    id: Identifier
    title: Text  # what the figure counts, in plain words
    source: Source
    population: Text
    mode: Text
    weighted: bool | None = None
    dont_know_in_base: bool | None = None
    question: Text  # the exact wording, or "not recorded"
    scale: list[Text] | Text  # the answer labels in order, or "not recorded"
    figures: list[Figure] = Field(min_length=1)
    compare_with: list[Target] = Field(default_factory=list)

    @field_validator("scale")
    @classmethod
    def _scale(cls, scale: list[str] | str) -> list[str] | str:
        if isinstance(scale, str) and normalise(scale) != normalise(NOT_RECORDED):
            raise ValueError(f"give the scale's labels as a list, or {NOT_RECORDED!r}")
        if isinstance(scale, list) and len(scale) < 2:
            raise ValueError("a scale needs at least two labels")
        return scale

    @property
    def question_recorded(self) -> bool:
        return normalise(self.question) != normalise(NOT_RECORDED)

    @property
    def scale_labels(self) -> list[str] | None:
        """The publisher's labels, or None when the file says they were not recorded."""
        return self.scale if isinstance(self.scale, list) else None

    @property
    def base(self) -> str:
        """Whether "don't know" answers were counted in the base, in words."""
        return {
            True: "includes \u201cdon\u2019t know\u201d",
            False: "excludes \u201cdon\u2019t know\u201d",
            None: "not recorded",
        }[self.dont_know_in_base]


class Benchmarks(_Strict):
    benchmarks: list[Benchmark] = Field(default_factory=list)

    @field_validator("benchmarks")
    @classmethod
    def _unique(cls, benchmarks: list[Benchmark]) -> list[Benchmark]:
        _no_duplicates([b.id for b in benchmarks], "benchmark id")
        return benchmarks


@dataclass(frozen=True)
class Comparison:
    """A benchmark beside one of our questions: ``matched`` when both wordings agree,
    otherwise indicative, with ``differences`` saying why."""

    benchmark: Benchmark
    instrument: str
    question: str
    our_wording: str
    our_scale: tuple[str, ...]
    differences: tuple[str, ...]

    @property
    def matched(self) -> bool:
        return not self.differences

    @property
    def label(self) -> str:
        return "same question and scale" if self.matched else "indicative"


def compare(benchmark: Benchmark, instrument: Instrument, question: Question) -> Comparison:
    """Compare ``benchmark``'s wording with ``question`` of ``instrument`` (module docstring).

    Raises
    ------
    ValueError
        If ``question`` is not a scale question of ``instrument``.
    """
    if question.type != "scale" or question.scale is None:
        raise ValueError(f"{instrument.id} {question.id} is not a scale question")
    labels = tuple(instrument.scale_of(question).labels)
    differences = []
    if not benchmark.question_recorded:
        differences.append("the published question wording is not recorded here")
    elif normalise(benchmark.question) != normalise(question.text):
        differences.append("the question is worded differently")
    theirs = benchmark.scale_labels
    if theirs is None:
        differences.append("the published answer scale is not recorded here")
    else:
        ours = [normalise(label) for label in labels]
        published = [normalise(label) for label in theirs]
        if published not in (ours, ours[::-1]):
            differences.append("the answer scale is different")
    return Comparison(
        benchmark, instrument.id, question.id, question.text, labels, tuple(differences)
    )


def comparisons_for(
    benchmarks: list[Benchmark], instrument: Instrument, question_id: str
) -> list[Comparison]:
    """Every benchmark to be shown beside ``question_id`` of ``instrument``, compared."""
    found = []
    for benchmark in benchmarks:
        for target in benchmark.compare_with:
            if target.instrument == instrument.id and target.question == question_id:
                question = next((q for q in instrument.questions if q.id == question_id), None)
                if question is not None and question.type == "scale":
                    found.append(compare(benchmark, instrument, question))
    return found
