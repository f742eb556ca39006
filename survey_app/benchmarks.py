"""External benchmarks beside our own figures (issue 17 §4): for the drill-down and the
quarterly report. A benchmark is context, never part of a status (survey_app.dashboard
scorecard does not read this module); our figure beside it is the stored, already
suppressed % positive of the question, so a suppressed group shows "not reported"."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from instruments import Comparison, Definitions, comparisons_for

from .display import rounded


@dataclass(frozen=True)
class BenchmarkRow:
    comparison: Comparison
    wave: str | None  # the wave of our figure
    ours: float | None  # our % positive that wave; None when not reported

    @property
    def question_id(self) -> str:
        return self.comparison.question

    @property
    def ours_text(self) -> str:
        """Our figure in words, rounded as pages show it."""
        when = f" in {self.wave}" if self.wave else ""
        if self.ours is None:
            return f"not reported{when}"
        return f"{rounded(self.ours):.0f}% positive{when} ({self.question_id})"

    @property
    def theirs_text(self) -> str:
        return ", ".join(f"{f.value:.0f}% ({f.period})" for f in self.comparison.benchmark.figures)

    @property
    def comparison_text(self) -> str:
        c = self.comparison
        return c.label.capitalize() + ("" if c.matched else ": " + "; ".join(c.differences))

    @property
    def our_question(self) -> str:
        c = self.comparison
        return f"{c.our_wording} ({' / '.join(c.our_scale)})"

    @property
    def their_question(self) -> str:
        b = self.comparison.benchmark
        wording = b.question if b.question_recorded else "not recorded"
        scale = " / ".join(b.scale_labels) if b.scale_labels else "scale not recorded"
        return f"{wording} ({scale})"

    @property
    def source_text(self) -> str:
        b = self.comparison.benchmark
        note = f" ({b.source.note})" if b.source.note else ""
        return (
            f"{b.source.publisher}, {b.source.title}: {b.mode}, {b.population}; "
            f"base {b.base}{note}."
        )


def benchmarks_beside(
    definitions: Definitions, instrument_id: str, items: pd.DataFrame
) -> list[BenchmarkRow]:
    """The benchmarks to show beside the questions of ``items`` (a question id x wave table
    of % positive, waves in order, NaN where not reported, as the drill-down builds it),
    each with our figure for the last wave of the table."""
    instrument = definitions.instruments.get(instrument_id)
    if instrument is None or not definitions.benchmarks or items.empty:
        return []
    waves = [c for c in items.columns if c != "question"]
    wave = waves[-1] if waves else None
    rows = []
    for question_id in items.index:
        for comparison in comparisons_for(definitions.benchmarks, instrument, str(question_id)):
            value = items.at[question_id, wave] if wave is not None else None
            shown = None if value is None or math.isnan(float(value)) else float(value)
            rows.append(BenchmarkRow(comparison, wave, shown))
    return rows
