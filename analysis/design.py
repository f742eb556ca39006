"""The weights of each audience-wave: the ``weight`` column, raked to population margins
fitted to the wave's respondents, then trimmed; and a record of what was done for the
methodology text. A wave that cannot be weighted is recorded as failed (its figures are
blank and a note says why) and never stops the other waves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from instruments import Instrument

from .margins import wave_margins
from .notes import Note
from .weighting import rake, trim_weights


@dataclass
class WaveDesign:
    """How one audience-wave's respondents were weighted, for the methodology text."""

    wave: str
    respondents: int
    audience_size: float | None
    weighting: str  # "none", "weight column" or "raked"
    trimmed: int = 0  # weights changed by --trim-weights


@dataclass
class WaveWeights:
    """Final weights of one instrument's rows, and per wave what was done or why it failed."""

    weight: np.ndarray
    weighted_waves: set[str] = field(default_factory=set)
    designs: dict[str, WaveDesign] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # wave -> why it could not be weighted
    notes: list[Note] = field(default_factory=list)


def weigh_waves(
    frame: pd.DataFrame,
    weight: np.ndarray,
    instrument: Instrument,
    *,
    margins: Mapping[str, Mapping[str, float]] | None,
    trim: tuple[float, float] | None,
    unknown_rows: Mapping[str, str],
    sizes: Mapping[str, float | None],
) -> WaveWeights:
    """Weigh each wave of one instrument's rows.

    Parameters
    ----------
    frame : DataFrame
        The instrument's rows (with ``wave`` and the raking columns).
    weight : ndarray
        Starting weights aligned with ``frame`` (filled in place with the final weights).
    instrument : Instrument
        Its definition (the attributes' order of choices is the order categories merge in).
    margins : mapping, optional
        ``{variable: {category: population total}}`` to rake to, fitted to each wave by
        :func:`analysis.margins.wave_margins`, then :func:`analysis.weighting.rake` (R ``rake``).
    trim : (float, float), optional
        LOWER and UPPER multiples of the wave's mean final weight, applied with
        :func:`analysis.weighting.trim_weights` (R ``trimWeights(strict=TRUE)``).
    unknown_rows : mapping
        Waves with a raking category the margins lack, and those rows (described): such a
        wave cannot be raked and fails.
    sizes : mapping
        Each wave's audience size (None when unknown), recorded in its design.
    """
    result = WaveWeights(weight)
    audience = instrument.audience
    choices = {a.id: a.choices for a in instrument.attributes}
    for label, rows in frame.groupby("wave", sort=False).indices.items():
        wave = str(label)
        weighting = "weight column" if np.ptp(weight[rows]) > 0 else "none"
        notes: list[str] = []
        try:
            if wave in unknown_rows:
                raise ValueError(  # noqa: TRY301 - the wave fails like any other that cannot be weighted
                    f"respondents with a category not in the population margins of raking variable(s) "
                    f"{', '.join(margins or {})} at {unknown_rows[wave]} "
                    "(fix them, or pass --drop-incomplete to leave them out)"
                )
            if margins:
                fitted = wave_margins(
                    frame.iloc[rows][list(margins)], weight[rows], margins, choices
                )
                notes += [f"raking: {text}" for text in fitted.notes]
                if fitted.margins:
                    weight[rows] = rake(
                        fitted.columns, fitted.margins, weights=weight[rows]
                    ).to_numpy()
                    weighting = "raked"
                else:
                    notes.append("raking: no margin left; not raked")
            trimmed = _trim(weight, rows, trim) if trim is not None else 0
            if trim is not None and trimmed:
                notes.append(
                    f"trimming: {trimmed} weights changed to lie within {trim[0]:g}-{trim[1]:g} x the mean weight"
                )
        except ValueError as exc:
            result.failed[wave] = f"could not be weighted: {exc}"
            notes.append(f"{result.failed[wave]}; its figures are blank")
            result.notes += [Note(instrument.id, audience, wave, text) for text in notes]
            continue
        result.notes += [Note(instrument.id, audience, wave, text) for text in notes]
        if weighting != "none" or np.ptp(weight[rows]) > 0:
            result.weighted_waves.add(wave)
        result.designs[wave] = WaveDesign(wave, len(rows), sizes.get(wave), weighting, trimmed)
    return result


def _trim(weight: np.ndarray, rows: np.ndarray, trim: tuple[float, float]) -> int:
    """Trim one wave's weights in place; returns how many changed."""
    mean = float(np.mean(weight[rows]))
    before = weight[rows].copy()
    weight[rows] = trim_weights(before, trim[0] * mean, trim[1] * mean)
    return int(np.sum(~np.isclose(before, weight[rows], rtol=1e-12, atol=0)))


def fpc_fraction(
    design_n: np.ndarray, waves: pd.Series, sizes: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Finite population correction: ``f`` = rows of the unit's design / the wave's
    audience size (NaN when the size is unknown) and the variance factor ``1 - f`` (1 when
    unknown). A breakdown group, and the rest of its audience, use the audience-wave's f
    (``svyby`` on the corrected design)."""
    audience_size = waves.map(sizes).to_numpy(dtype=float)
    f = design_n / audience_size
    return f, np.where(np.isfinite(f), 1.0 - f, 1.0)
