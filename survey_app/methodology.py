"""What was done to each audience-wave's figures (finite population correction, raking,
trimming, design effects) and the analysis notes, read from stored results for the
scorecard's and the report's methodology sections."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .models import AnalysisResult
from .results import table


def _number(value) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


@dataclass(frozen=True)
class WaveMethod:
    """One audience-wave's design, in words."""

    instrument: str
    audience: str
    wave: str
    respondents: float | None  # None when suppressed
    audience_size: float | None
    fpc: float | None
    weighting: str
    trimmed: int
    deff_min: float | None
    deff_max: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def correction(self) -> str:
        if self.fpc is not None:
            return f"applied (f = {self.fpc:.2f} of an audience of {self.audience_size:,.0f})"
        if self.audience_size is None:
            return "not applied: audience size unknown"
        if self.respondents is None:
            return "not reported: too few respondents"
        return "not applied"

    @property
    def weights(self) -> str:
        return {
            "raked": "raked to population margins",
            "weight column": "weights supplied with the responses",
            "none": "not weighted",
        }.get(self.weighting, self.weighting)

    @property
    def trimming(self) -> str:
        return (
            f"{self.trimmed} weight{'s' if self.trimmed != 1 else ''} trimmed"
            if self.trimmed
            else "none"
        )

    @property
    def design_effects(self) -> str:
        if self.deff_min is None or self.deff_max is None:
            return "–"
        return f"{self.deff_min:.2f} to {self.deff_max:.2f}"


# Notes that name no count or share: safe to show for a wave too small to report figures for.
_COUNT_FREE = ("merged into", "margin dropped", "could not be", "no margin left")


def _shown_notes(notes: list[str], suppressed: bool) -> list[str]:
    """A suppressed wave's notes without the ones that give counts or weight shares (a
    count under the minimum group size is never shown)."""
    if not suppressed:
        return notes
    shown = [n for n in notes if any(marker in n for marker in _COUNT_FREE)]
    if len(shown) < len(notes):
        shown.append("further notes withheld: too few respondents to report")
    return shown


def wave_methods(result: AnalysisResult | None, wave: str | None = None) -> list[WaveMethod]:
    """Every audience-wave of the results (only ``wave`` when given), in wave order."""
    designs, notes = table(result, "designs"), table(result, "notes")
    if designs.empty:
        return []
    by_unit: dict[tuple[str, str], list[str]] = {}
    for row in notes.itertuples() if not notes.empty else ():
        if isinstance(row.wave, str):
            by_unit.setdefault((row.instrument, row.wave), []).append(row.note)
    methods = []
    for row in designs.itertuples():
        if wave is not None and row.wave != wave:
            continue
        methods.append(
            WaveMethod(
                row.instrument,
                row.audience,
                row.wave,
                _number(row.respondents),
                _number(row.audience_size),
                _number(row.fpc),
                str(row.weighting),
                int(_number(row.trimmed) or 0),
                _number(row.deff_min),
                _number(row.deff_max),
                _shown_notes(
                    by_unit.get((row.instrument, row.wave), []), _number(row.respondents) is None
                ),
            )
        )
    return methods


def unit_note(result: AnalysisResult | None, instrument: str, wave: str) -> str | None:
    """Why a unit's figures are blank, when it could not be estimated (else None)."""
    notes = table(result, "notes")
    if notes.empty:
        return None
    found = notes[
        (notes["instrument"] == instrument)
        & (notes["wave"] == wave)
        & notes["note"].str.contains("could not be")
    ]
    return str(found.iloc[0]["note"]) if not found.empty else None
