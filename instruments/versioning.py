"""Instrument versions and the comparability of two versions.

A version is the SHA-256 of the canonical JSON of the *validated* model, so formatting,
comments, key order and defaults spelt out or left implicit never make a new version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pydantic import BaseModel

from .schema import Instrument, Question


def canonical_json(instrument: BaseModel) -> str:
    return json.dumps(
        instrument.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def version_of(instrument: BaseModel) -> str:
    """The full 64-hex-digit version of an instrument (or of a codebook)."""
    return hashlib.sha256(canonical_json(instrument).encode("utf-8")).hexdigest()


def _meaning(instrument: Instrument, question: Question) -> dict:
    """What a respondent saw and could answer: a change here breaks comparability."""
    scale = instrument.scales.get(question.scale) if question.scale else None
    return {
        "text": question.text,
        "type": question.type,
        "scale": scale.model_dump(mode="json") if scale else None,
        "choices": question.choices,
        "reverse": question.reverse,
    }


@dataclass(frozen=True)
class QuestionChange:
    id: str
    fields: tuple[str, ...]
    breaking: bool

    def __str__(self) -> str:
        mark = "BREAKS COMPARABILITY" if self.breaking else "comparable"
        return f"{self.id}: {', '.join(self.fields)} changed ({mark})"


@dataclass(frozen=True)
class InstrumentDiff:
    old_version: str
    new_version: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[QuestionChange, ...] = field(default_factory=tuple)

    @property
    def breaking(self) -> tuple[str, ...]:
        """Question ids whose wording, type or scale changed under the same id."""
        return tuple(c.id for c in self.changed if c.breaking)

    @property
    def identical(self) -> bool:
        return self.old_version == self.new_version

    def lines(self) -> list[str]:
        if self.identical:
            return ["identical versions"]
        out = [f"{self.old_version[:12]} -> {self.new_version[:12]}"]
        out += [f"+ {q}: added" for q in self.added]
        out += [f"- {q}: removed" for q in self.removed]
        out += [f"~ {c}" for c in self.changed]
        if not (self.added or self.removed or self.changed):
            out.append("questions unchanged (title, description or other metadata changed)")
        return out


def diff_instruments(old: Instrument, new: Instrument) -> InstrumentDiff:
    """Compare two versions of one instrument question by question.

    Wording, type, scale (labels, positive positions, don't-know) or reverse-coding changes
    under the same question id break comparability: trends must not join across them.
    Changes to outcomes, index membership, hints or ``required`` do not.
    """
    old_q = {q.id: q for q in old.questions}
    new_q = {q.id: q for q in new.questions}
    changed = []
    for qid in (q.id for q in new.questions if q.id in old_q):
        before, after = old_q[qid].model_dump(), new_q[qid].model_dump()
        meaning_before, meaning_after = _meaning(old, old_q[qid]), _meaning(new, new_q[qid])
        fields = sorted(
            {k for k in before if before[k] != after[k] and k != "scale"}
            | {k for k in meaning_before if meaning_before[k] != meaning_after[k]}
        )
        if fields:
            breaking = meaning_before != meaning_after
            changed.append(QuestionChange(qid, tuple(fields), breaking))
    return InstrumentDiff(
        old_version=version_of(old),
        new_version=version_of(new),
        added=tuple(q for q in new_q if q not in old_q),
        removed=tuple(q for q in old_q if q not in new_q),
        changed=tuple(changed),
    )
