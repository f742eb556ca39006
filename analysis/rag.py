"""Red / amber / green status of a measure against its target (DESIGN.md section 2).

Rules, per measure and audience, on the latest wave's estimate:

* **green**: the estimate meets the target (at or above it when higher is better, at or below
  it when lower is better);
* **amber**: it falls short by no more than the amber margin (in the measure's units), or it
  improved significantly since the previous wave;
* **red**: otherwise;
* **grey**: nothing to judge: no responses, a suppressed (too small) group, or no target.

An outcome shows the worst status of its measures that have data (grey only when none has).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Colour = Literal["green", "amber", "red", "grey"]
SEVERITY: dict[str, int] = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class Rag:
    colour: Colour
    reason: str

    @property
    def label(self) -> str:
        return {
            "green": "On target",
            "amber": "Close to target",
            "red": "Off target",
            "grey": "No rating",
        }[self.colour]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def rate(
    estimate: float | None,
    target: float | None,
    *,
    direction: str = "higher",
    amber_margin: float = 10.0,
    suppressed: bool = False,
    improved_significantly: bool = False,
    unit: str = "%",
) -> Rag:
    """The status of one measure. ``improved_significantly`` means the change since the
    previous wave was significant (after Benjamini-Hochberg) and in the better direction."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    if amber_margin < 0:
        raise ValueError("amber_margin cannot be negative")
    if suppressed:
        return Rag("grey", "Too few responses to report (suppressed to protect anonymity)")
    if estimate is None or _missing(estimate):
        return Rag("grey", "No responses or values yet")
    if target is None or _missing(target):
        return Rag("grey", "No target set")
    shortfall = (target - estimate) if direction == "higher" else (estimate - target)
    units = "" if unit == "%" else f" {unit}"
    if shortfall <= 0:
        return Rag("green", f"Meets the target of {target:g}{units}")
    if shortfall <= amber_margin:
        return Rag(
            "amber",
            f"{shortfall:.1f}{units or ' points'} short of the target, within the amber margin",
        )
    if improved_significantly:
        return Rag(
            "amber",
            f"{shortfall:.1f}{units or ' points'} short of the target, but significantly improved",
        )
    return Rag("red", f"{shortfall:.1f}{units or ' points'} short of the target")


def worst(statuses: Iterable[Rag]) -> Rag:
    """An outcome's status: the worst of its measures that have data; grey if none has."""
    rated = [s for s in statuses if s.colour != "grey"]
    if not rated:
        return Rag("grey", "No measure of this outcome has reportable data")
    return max(rated, key=lambda s: SEVERITY[s.colour])
