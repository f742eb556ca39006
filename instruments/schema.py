"""Pydantic models for the outcome framework and for survey instruments.

These models *are* the documented file format (DESIGN.md section 3). Unknown keys are
refused so that a typo such as ``revers: true`` is reported rather than silently ignored;
the optional keys we add beyond the stable contract are listed on each model.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

AUDIENCES = ("members", "staff", "residents", "partners", "commissioners")
Audience = Literal["members", "staff", "residents", "partners", "commissioners"]
IndexName = Literal["confidence", "culture"]
INDEXES: tuple[str, ...] = ("confidence", "culture")

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_duplicates(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
    return values


# --------------------------------------------------------------------------- instruments


class Scale(_Strict):
    """An ordered response scale; ``positive`` holds 1-based positions into ``labels``."""

    labels: list[Text] = Field(min_length=2, max_length=11)
    positive: list[int] = Field(min_length=1)
    dont_know: Text | None = None

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        return _no_duplicates(labels, "label")

    @model_validator(mode="after")
    def _positions_in_range(self) -> Scale:
        k = len(self.labels)
        for position in self.positive:
            if not 1 <= position <= k:
                raise ValueError(
                    f"positive position {position} is out of range: the scale has {k} labels "
                    f"(positions 1 to {k})"
                )
        _no_duplicates([str(p) for p in self.positive], "positive position")
        if len(self.positive) == k:
            raise ValueError("every position is positive: the scale cannot tell anything apart")
        if self.dont_know is not None and self.dont_know in self.labels:
            raise ValueError(f"dont_know label {self.dont_know!r} repeats a scale label")
        return self

    @property
    def k(self) -> int:
        return len(self.labels)


class Question(_Strict):
    """One question. Optional keys beyond the contract: ``hint``, ``section``, ``max_length``."""

    id: Identifier
    text: Text
    type: Literal["scale", "choice", "text"] = "scale"
    scale: Identifier | None = None
    choices: list[Text] | None = None
    required: bool = False
    reverse: bool = False
    outcomes: list[Identifier] = Field(default_factory=list)
    index: IndexName | None = None
    hint: Text | None = None
    section: Text | None = None
    max_length: int = Field(default=2000, ge=1, le=10000)

    @model_validator(mode="after")
    def _keys_fit_type(self) -> Question:
        if self.type == "scale":
            if self.scale is None:
                raise ValueError("a scale question needs 'scale' (the name of one of 'scales')")
            if self.choices is not None:
                raise ValueError("'choices' is only for type: choice")
        elif self.type == "choice":
            if not self.choices or len(self.choices) < 2:
                raise ValueError("a choice question needs 'choices' with at least two entries")
            _no_duplicates(self.choices, "choice")
        else:
            if self.choices is not None:
                raise ValueError("'choices' is only for type: choice")
        if self.type != "scale":
            if self.scale is not None:
                raise ValueError(f"'scale' is only for scale questions, not type: {self.type}")
            if self.reverse:
                raise ValueError("'reverse' is only for scale questions")
            if self.index is not None:
                raise ValueError("'index' is only for scale questions")
        _no_duplicates(self.outcomes, "outcome")
        return self

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, outcomes: list[str], info: ValidationInfo) -> list[str]:
        known = (info.context or {}).get("outcomes")
        if known is not None:
            for outcome in outcomes:
                if outcome not in known:
                    raise ValueError(
                        f"unknown outcome id {outcome!r} (the framework has "
                        f"{', '.join(sorted(known, key=_natural)) or 'no outcomes'})"
                    )
        return outcomes


class Attribute(_Strict):
    """An optional "about you" question whose answer is a respondent attribute (weighting,
    breakdowns), e.g. age band, sex, ward. Never required: declining is always possible."""

    id: Identifier
    text: Text
    choices: list[Text] = Field(min_length=2)
    hint: Text | None = None

    @field_validator("choices")
    @classmethod
    def _unique(cls, choices: list[str]) -> list[str]:
        return _no_duplicates(choices, "choice")


class Instrument(_Strict):
    """A survey instrument. Optional keys beyond the contract: ``description``, ``minutes``,
    ``attributes``."""

    id: Identifier
    title: Text
    audience: Audience
    description: Text | None = None
    minutes: int | None = Field(default=None, ge=1, le=120)
    scales: dict[Identifier, Scale] = Field(default_factory=dict)
    questions: list[Question] = Field(min_length=1)
    attributes: list[Attribute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        seen: set[str] = set()
        for position, question in enumerate(self.questions):
            if question.id in seen:
                raise _located(
                    ("questions", position, "id"), f"duplicate question id {question.id!r}"
                )
            seen.add(question.id)
            if question.type == "scale" and question.scale not in self.scales:
                raise _located(
                    ("questions", position, "scale"),
                    f"unknown scale {question.scale!r} (defined scales: "
                    f"{', '.join(self.scales) or 'none'})",
                )
        for position, attribute in enumerate(self.attributes):
            if attribute.id in seen:
                raise _located(
                    ("attributes", position, "id"),
                    f"attribute id {attribute.id!r} repeats a question or attribute id",
                )
            seen.add(attribute.id)
        return self

    # Convenience views used by the app and the analysis package.
    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def scale_of(self, question: Question) -> Scale:
        if question.scale is None:
            raise ValueError(f"question {question.id} has no scale")
        return self.scales[question.scale]

    @property
    def scale_questions(self) -> list[Question]:
        return [q for q in self.questions if q.type == "scale"]

    def index_questions(self, index: str) -> list[Question]:
        return [q for q in self.questions if q.index == index]

    def outcome_questions(self, outcome: str) -> list[Question]:
        return [q for q in self.scale_questions if outcome in q.outcomes]

    def counted_as(self, question: Question) -> str | None:
        """What a reverse-coded question's "% positive" counts, in words from its scale's
        labels: the mirrored positive positions, named by the one nearest the middle
        ("Disagree" → "% disagreeing"; "Dissatisfied" → "% dissatisfied"). None for a question
        that is not reverse-coded (its percentage is the plain "% positive")."""
        if not question.reverse or question.scale is None:
            return None
        scale = self.scale_of(question)
        mirrored = sorted(scale.k + 1 - p for p in scale.positive)
        middle = (scale.k + 1) / 2
        nearest = min(mirrored, key=lambda p: abs(p - middle))
        word = scale.labels[nearest - 1].split()[-1].lower()
        return f"% {word}ing" if word.endswith("agree") else f"% {word}"

    def result_text(self, question_id: str) -> str:
        """A question as results show it: a reverse-coded one is prefixed with what its
        percentage counts ("% disagreeing: Officers withhold information from members."),
        so a high figure is never read as agreement."""
        question = self.question(question_id)
        counted = self.counted_as(question)
        return f"{counted}: {question.text}" if counted else question.text


class LocatedError(ValueError):
    """A validation error raised at a path deeper than the validator that found it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _located(loc: tuple[str | int, ...], message: str) -> LocatedError:
    return LocatedError(loc, message)


def _natural(identifier: str) -> tuple[str, int]:
    head = identifier.rstrip("0123456789")
    tail = identifier[len(head) :]
    return head, int(tail) if tail else -1


# --------------------------------------------------------------------------- framework


class Measure(_Strict):
    """How an outcome is measured: a survey measure (an audience's outcome score, index or
    item) or a KPI entered by analysts each period. Targets are optional."""

    id: Identifier
    type: Literal["survey", "kpi"]
    title: Text | None = None
    audience: Audience | None = None
    level: Literal["outcome", "index", "item"] = "outcome"
    instrument: Identifier | None = None
    item: Identifier | None = None
    index: IndexName | None = None
    unit: Text = "%"
    baseline: float | None = None
    # when the baseline was measured: the start of the trajectory to the target (default: the
    # closing date of the measure's first wave, or the end of a KPI's first period)
    baseline_date: dt.date | None = None
    target: float | None = None
    target_date: dt.date | None = None
    direction: Literal["higher", "lower"] = "higher"
    amber_margin: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _keys_fit_type(self) -> Measure:
        if self.type == "survey":
            if self.audience is None:
                raise ValueError("a survey measure needs 'audience'")
            if self.level == "item" and self.item is None:
                raise ValueError("a survey measure with level: item needs 'item' (a question id)")
            if self.level == "index" and self.index is None:
                raise ValueError("a survey measure with level: index needs 'index'")
        else:
            if self.title is None:
                raise ValueError("a KPI measure needs a 'title' that says what is counted")
            for key in ("audience", "item", "index", "instrument"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is only for survey measures")
        return self


class Outcome(_Strict):
    id: Identifier
    title: Text
    measures: list[Measure] = Field(default_factory=list)


class Workstream(_Strict):
    id: Identifier
    title: Text
    outcomes: list[Outcome] = Field(min_length=1)


class Priority(_Strict):
    """A plan priority; cross-cutting outcomes may sit directly under it, with no workstream."""

    id: Identifier
    title: Text
    workstreams: list[Workstream] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Priority:
        if not self.workstreams and not self.outcomes:
            raise ValueError("a priority needs 'workstreams' or 'outcomes'")
        return self


class Framework(_Strict):
    """Priorities → workstreams → outcomes → measures, and the minimum reporting group size
    per audience (``min_group_size: {default: 10, members: 5}``)."""

    title: Text = "Improvement and Recovery Plan"
    priorities: list[Priority] = Field(min_length=1)
    min_group_size: dict[str, int] = Field(default_factory=lambda: {"default": 10})
    # Theme shares are reported per commenting respondent, a smaller base than the audience:
    # their own threshold, counted in respondents with at least one comment.
    min_comment_group_size: int = Field(default=10, ge=1)

    @field_validator("min_group_size")
    @classmethod
    def _sizes(cls, sizes: dict[str, int]) -> dict[str, int]:
        for audience, size in sizes.items():
            if audience != "default" and audience not in AUDIENCES:
                raise ValueError(
                    f"unknown audience {audience!r} in min_group_size "
                    f"(use default or one of {', '.join(AUDIENCES)})"
                )
            if size < 1:
                raise ValueError(f"min_group_size for {audience} must be at least 1, not {size}")
        return {"default": 10, **sizes}

    @model_validator(mode="after")
    def _unique_ids(self) -> Framework:
        _no_duplicates([o.id for o in self.outcomes], "outcome id")
        _no_duplicates([m.id for o in self.outcomes for m in o.measures], "measure id")
        return self

    @property
    def outcomes(self) -> list[Outcome]:
        found: list[Outcome] = []
        for priority in self.priorities:
            found.extend(priority.outcomes)
            for workstream in priority.workstreams:
                found.extend(workstream.outcomes)
        return found

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.outcomes]

    def outcome(self, outcome_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)

    def min_n(self, audience: str) -> int:
        return self.min_group_size.get(audience, self.min_group_size["default"])
