"""``analysis.run``: indicators, changes, trends and reliability from the export file.

Methodology (DESIGN.md section 5; every estimator is documented in its own module):

* **Item**: % positive over valid answers (don't-know and blank excluded; reverse items count
  the mirrored positions), Taylor-linearised SE of the weighted mean of the 0/1 indicator as
  R ``svymean`` on ``svydesign(ids=~1, weights=~w)`` over the respondents with a valid
  answer; Wilson 95% CI with n (unweighted) or Kish effective n (weighted); mean score 0-100.
* **Index / outcome**: per respondent the mean 0-100 score of the index items answered (or the
  share of the outcome's answered items that are positive, x 100) if at least half were
  answered; group estimate = weighted mean with Taylor SE, CI = estimate +/- 1.959964 SE.
* **Breakdowns**: the group's estimate over its respondents, with the domain SE of
  ``svyby(~y, ~group, design, svymean)`` within the audience-wave design. ``--by a*b`` crosses
  two attributes (groups ``x*y``), suppressed across both margins.
* **Heatmap**: each group against the rest of its audience-wave (:mod:`analysis.heatmap`).
* **Key drivers**: LMG shares of the WLS R^2 of the framework's targets (:mod:`analysis.drivers`).
* **Changes** between consecutive waves: pooled two-proportion z (unweighted items), Welch t
  (unweighted index/outcome), z = change / sqrt(se1^2 + se2^2) (weighted); Benjamini-Hochberg
  within (instrument, audience, by, group, wave pair); MDC = (1.959964 + 0.841621) x
  sqrt(se1^2 + se2^2).
* **Trends**: Cochran-Armitage on items over three or more waves (weighted: p-hat and Kish n).
* **Reliability**: Cronbach's alpha with the Feldt CI per index, audience and wave.
* **Finite population correction**: a wave with a known ``audience_size`` N gets
  ``se * sqrt(1 - f)``, f = (rows of the unit's design) / N, exactly R ``svymean`` on
  ``svydesign(ids=~1, weights=~w, fpc=~audience_size)`` built on the rows with a valid value
  (``svyby`` on that design for breakdowns, which use the audience-wave's f). Item CIs are
  Wilson with n_eff = Kish n / (1 - f); a change with the correction on either side is
  z = change / sqrt(se1^2 + se2^2) with the corrected SEs.
* **Design effect** ``deff``: R ``svymean(..., deff = "replace")`` on the same design, the
  final weights taken as fixed.
* **Trimming** (``trim_weights=(LOWER, UPPER)``): R ``trimWeights(strict=TRUE)`` to LOWER and
  UPPER x the mean final weight of the audience-wave, no re-raking.
* **Common items**: a change of an index or outcome is computed on the items with valid
  answers in both waves (the ``note`` says which were left out).
* **Notes**: whatever could not be estimated, or was estimated differently (raking
  categories merged, margins dropped, weights trimmed, no FPC), gets a row in ``notes``;
  a unit that fails never stops the others.
* **Suppression**: :func:`analysis.suppression.suppress` on every table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from instruments import INDEXES, Definitions, load_definitions

from .design import fpc_fraction
from .drivers import drivers_table, empty_drivers, key_drivers
from .estimators import grouped_means, weighted_median
from .heatmap import empty_heatmap, heatmap_rows, heatmap_table
from .inference import (
    benjamini_hochberg,
    cochran_armitage,
    minimum_detectable_change,
    two_proportion_ztest,
    weighted_change_z,
    welch_ttest_from_stats,
    wilson_interval,
)
from .notes import Note, notes_table
from .reliability import cronbach_alpha
from .responses import (
    Prepared,
    breakdown_filled,
    breakdown_labels,
    breakdown_parts,
    check_frame,
    population_margins,
    prepare,
)
from .scoring import respondent_mean
from .spreadsheet import write_csv
from .suppression import min_n_for, suppress
from .text.themes import empty_theme_table, theme_counts, theme_table
from .versions import breaks, version_groups

Z95 = 1.959964
LEVELS = ("item", "index", "outcome", "number")
INDICATOR_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "level",
    "id",
    "by",
    "group",
    "n",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "mean_score",
    "deff",
    "n_eff",
    "fpc",
    "suppressed",
    "median",
]
CHANGE_COLUMNS = [
    "instrument",
    "audience",
    "level",
    "id",
    "by",
    "group",
    "wave_from",
    "wave_to",
    "estimate_from",
    "estimate_to",
    "change",
    "statistic",
    "p_value",
    "p_adj",
    "significant",
    "mdc",
    "comparable",
    "note",
]
DESIGN_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "respondents",
    "audience_size",
    "fpc",
    "weighting",
    "trimmed",
    "deff_min",
    "deff_max",
]
TREND_COLUMNS = [
    "instrument",
    "audience",
    "level",
    "id",
    "by",
    "group",
    "waves",
    "statistic",
    "p_value",
]
RELIABILITY_COLUMNS = [
    "instrument",
    "audience",
    "wave",
    "index",
    "k",
    "n",
    "alpha",
    "ci_low",
    "ci_high",
    "suppressed",
]
ESTIMATE_COLUMNS = [
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "mean_score",
    "deff",
    "n_eff",
    "fpc",
    "median",
]
TEST_COLUMNS = ["statistic", "p_value", "p_adj", "significant", "mdc"]


@dataclass
class Results:
    """The analysis tables (see the module docstring and the CLI for their columns)."""

    indicators: pd.DataFrame
    changes: pd.DataFrame
    trends: pd.DataFrame
    reliability: pd.DataFrame
    wave_order: list[str] = field(default_factory=list)
    notes: pd.DataFrame = field(default_factory=lambda: notes_table([]))
    themes: pd.DataFrame = field(default_factory=empty_theme_table)
    designs: pd.DataFrame = field(default_factory=lambda: _empty(DESIGN_COLUMNS))
    heatmap: pd.DataFrame = field(default_factory=empty_heatmap)
    drivers: pd.DataFrame = field(default_factory=empty_drivers)

    TABLES = (
        "indicators",
        "changes",
        "trends",
        "reliability",
        "themes",
        "notes",
        "designs",
        "heatmap",
        "drivers",
    )

    def write(self, outdir: str | Path) -> list[Path]:
        """Write each table as CSV (full precision, booleans ``true``/``false``, text cells
        neutralised as :mod:`analysis.spreadsheet` documents)."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in self.TABLES:
            table = getattr(self, name).copy()
            for column in table.columns:
                if table[column].dtype == bool or column in (
                    "suppressed",
                    "significant",
                    "comparable",
                ):
                    table[column] = table[column].map({True: "true", False: "false"})
            path = outdir / f"{name}.csv"
            partial = path.with_name(path.name + ".partial")
            write_csv(table, partial)
            partial.replace(path)
            written.append(path)
        return written


def _definitions(instruments) -> Definitions:
    if isinstance(instruments, Definitions):
        return instruments
    if isinstance(instruments, (str, Path)):
        return load_definitions(instruments, versions=True)
    raise ValueError("instruments must be a Definitions object or a definitions folder path")


def _min_n(definitions: Definitions, min_n) -> dict[str, int]:
    sizes = dict(definitions.framework.min_group_size)
    if min_n is None:
        return sizes
    if isinstance(min_n, Mapping):
        for audience, size in min_n.items():
            if int(size) < 1:
                raise ValueError(f"min_n for {audience} must be at least 1")
        return {**sizes, **{k: int(v) for k, v in min_n.items()}}
    if int(min_n) < 1:
        raise ValueError("min_n must be at least 1")
    return {"default": int(min_n)}


def run(
    responses: pd.DataFrame,
    instruments,
    population: pd.DataFrame | None = None,
    by: Sequence[str] = (),
    min_n: int | Mapping[str, int] | None = None,
    *,
    audience_by: Mapping[str, Sequence[str]] | None = None,
    waves: Sequence[str] | None = None,
    drop_incomplete: bool = False,
    fpc: bool = True,
    trim_weights: tuple[float, float] | None = None,
    progress: Callable[[str], None] | None = None,
    drivers: bool = True,
) -> Results:
    """Analyse responses in the export schema.

    Parameters
    ----------
    responses : DataFrame
        One row per response (the app's export file); may mix instruments and audiences.
    instruments : Definitions or path
        The definitions folder (``framework.yaml`` + instruments) or its loaded form.
    population : DataFrame, optional
        ``audience, variable, category, population``: each named audience's respondents are
        raked to these margins per wave, starting from the ``weight`` column.
    by : sequence of str
        Breakdown columns (respondent attributes), or two joined by ``*`` (crossed).
    min_n : int or mapping, optional
        Minimum reporting group size: one number for every audience, or
        ``{audience: n, "default": n}`` over the framework's values. Default: the
        framework's ``min_group_size`` (10 unless set).
    audience_by : mapping, optional
        ``{audience: [breakdown, ...]}``: further breakdowns for that audience's instruments
        only, e.g. the framework's ``crossed_breakdowns`` (``{"staff": ["directorate*grade"]}``).
    waves : sequence of str, optional
        Waves to analyse, in order. Default: every wave present, ordered by label.
    drop_incomplete : bool
        Leave out respondents with a blank, "Prefer not to say" or unknown category in a
        raking variable. Otherwise blanks keep their weighted share of that margin and an
        unknown category raises ``ValueError``.
    fpc : bool
        Apply the finite population correction to waves with a known ``audience_size``
        (default); ``False`` is the CLI's ``--no-fpc``.
    trim_weights : (float, float), optional
        ``(LOWER, UPPER)``: trim final weights to LOWER and UPPER times the mean final weight
        of each audience-wave (R ``trimWeights(strict=TRUE)``), with LOWER <= 1 <= UPPER.
    progress : callable, optional
        Called with a short message as each instrument is analysed.
    drivers : bool
        Estimate the key drivers (default); ``False`` is the CLI's ``--no-drivers`` (their
        bootstrap over every subset of up to 15 items is most of the time of a large run).
    """
    definitions = _definitions(instruments)
    check_frame(responses, definitions)
    thresholds = _min_n(definitions, min_n)
    trim = _trim_bounds(trim_weights)
    margins = population_margins(population)
    by = list(dict.fromkeys(by))
    extra = {
        a: [b for b in dict.fromkeys(bs) if b not in by] for a, bs in (audience_by or {}).items()
    }
    for column in (
        part for b in [*by, *itertools.chain(*extra.values())] for part in breakdown_parts(b)
    ):
        if column not in responses:
            raise ValueError(f"responses: --by column {column} is not in the responses")

    frame = responses
    if waves is not None:
        waves = [str(w) for w in waves]
        absent = [w for w in waves if w not in set(frame["wave"].astype(str))]
        if absent:
            raise ValueError(f"waves not in the responses: {', '.join(absent)}")
        frame = frame[frame["wave"].astype(str).isin(waves)]
        order = waves
    else:
        order = sorted(frame["wave"].astype(str).unique())
    rank = {w: i for i, w in enumerate(order)}

    indicator_parts, reliability_parts, design_parts = [], [], []
    notes: list[Note] = []
    aux_parts, theme_parts, common_parts, failed_parts = [], [], [], []
    heatmap_parts, driver_parts = [], []
    codebook = definitions.codebook
    break_parts = []
    for instrument_id, rows in frame.groupby("instrument", sort=True):
        if progress:
            progress(f"{instrument_id}: {len(rows):,} responses")
        groups, version_notes = version_groups(rows, definitions.versions_of(str(instrument_id)))
        notes += version_notes
        break_parts.append(breaks(groups, rank))
        for group in groups:  # each version's responses scored with that version's definition
            instrument = group.instrument
            instrument_by = [*by, *extra.get(instrument.audience, [])]
            prepared = prepare(
                group.rows,
                instrument,
                margins=margins.get(instrument.audience),
                by=instrument_by,
                drop_incomplete=drop_incomplete,
                names=definitions.redaction.names,
                trim=trim,
            )
            notes += prepared.notes
            sizes = _fpc_sizes(prepared, fpc, notes)
            try:
                respondent = respondent_scores(prepared)
                table, aux = _indicators(prepared, instrument_by, sizes, respondent)
                heatmap_part = heatmap_rows(prepared, instrument_by, sizes, respondent)
                common = _common_item_estimates(prepared, instrument_by, sizes, rank)
                reliability_part = _reliability(prepared)
            except (
                ValueError
            ) as exc:  # one instrument that cannot be estimated never stops the others
                notes.append(
                    Note(instrument.id, instrument.audience, None, f"could not be estimated: {exc}")
                )
                continue
            if codebook is not None:
                theme_parts.append(theme_counts(prepared, codebook, instrument_by))
            indicator_parts.append(table)
            heatmap_parts.append(heatmap_part)
            aux_parts.append(aux)
            failed_parts.append(_failed_rows(prepared))
            common_parts.append(common)
            reliability_parts.append(reliability_part)
            design_parts.append(_designs(prepared, sizes))
            if drivers:
                try:
                    found, driver_notes = key_drivers(
                        prepared,
                        respondent,
                        definitions.framework.key_drivers,
                        definitions.framework.min_driver_respondents,
                    )
                except ValueError as exc:  # drivers that cannot be estimated never stop the rest
                    notes.append(
                        Note(instrument.id, instrument.audience, None, f"key drivers: {exc}")
                    )
                else:
                    driver_parts.append(found)
                    notes += driver_notes

    indicators = (
        pd.concat(indicator_parts, ignore_index=True)
        if indicator_parts
        else _empty(INDICATOR_COLUMNS)
    )
    aux = pd.concat(aux_parts, ignore_index=True) if aux_parts else pd.DataFrame()
    indicators = suppress(
        indicators,
        thresholds,
        family=["instrument", "audience", "wave", "level", "id", "by"],
        group_column="group",
        crossed_by="by",
        blank=ESTIMATE_COLUMNS,
    )
    # blank rows of the waves that could not be weighted: not suppressed, their notes say why
    failed = (
        pd.concat(failed_parts, ignore_index=True) if failed_parts else _empty(INDICATOR_COLUMNS)
    )
    if len(failed):
        indicators = pd.concat([indicators, failed], ignore_index=True)
        aux = pd.concat(
            [
                aux,
                pd.DataFrame(
                    {"_weighted": False, "_fpc": False, "_n_eff": np.nan, "_sd": np.nan},
                    index=range(len(failed)),
                ),
            ],
            ignore_index=True,
        )
    indicators = _sorted(indicators, rank)
    aux = aux.loc[indicators.index] if len(aux) else aux
    indicators = indicators.reset_index(drop=True)
    aux = aux.reset_index(drop=True)

    reliability = (
        pd.concat(reliability_parts, ignore_index=True)
        if reliability_parts
        else _empty(RELIABILITY_COLUMNS)
    )
    reliability = suppress(reliability, thresholds, blank=["alpha", "ci_low", "ci_high"])
    reliability["wave_rank"] = reliability["wave"].map(rank)
    reliability = reliability.sort_values(["instrument", "index", "wave_rank"]).drop(
        columns="wave_rank"
    )
    common = pd.concat(common_parts, ignore_index=True) if common_parts else pd.DataFrame()
    not_comparable = pd.concat(break_parts, ignore_index=True) if break_parts else pd.DataFrame()

    return Results(
        indicators=indicators[INDICATOR_COLUMNS],
        changes=_changes(indicators, aux, rank, common, thresholds, not_comparable),
        trends=_trends(indicators, aux, rank, not_comparable),
        reliability=reliability[RELIABILITY_COLUMNS].reset_index(drop=True),
        wave_order=order,
        notes=notes_table(notes),
        themes=theme_table(
            theme_parts,
            thresholds,
            rank,
            codebook.theme_ids if codebook else (),
            min_commenting=definitions.framework.min_comment_group_size,
        ),
        designs=_design_table(design_parts, indicators, thresholds, rank),
        heatmap=_sorted(heatmap_table(heatmap_parts, thresholds), rank).reset_index(drop=True),
        drivers=drivers_table(driver_parts, thresholds, rank),
    )


def _trim_bounds(trim_weights: tuple[float, float] | None) -> tuple[float, float] | None:
    if trim_weights is None:
        return None
    try:
        lower, upper = (float(b) for b in trim_weights)
    except (TypeError, ValueError):
        raise ValueError(
            f"trim_weights must be two numbers LOWER,UPPER, not {trim_weights!r}"
        ) from None
    if not (0 <= lower <= 1 <= upper) or not np.isfinite(upper) or lower == upper:
        raise ValueError(
            f"trim_weights needs 0 <= LOWER <= 1 <= UPPER (multiples of the mean weight), "
            f"not {lower:g},{upper:g}"
        )
    return lower, upper


def _fpc_sizes(prepared: Prepared, use_fpc: bool, notes: list[Note]) -> dict[str, float]:
    """The audience size N of each wave that gets the finite population correction."""
    sizes: dict[str, float] = {}
    if not use_fpc:
        return sizes
    for wave, design in prepared.designs.items():
        if design.audience_size is None:
            continue
        if design.respondents > design.audience_size:
            notes.append(
                Note(
                    prepared.instrument.id,
                    prepared.audience,
                    wave,
                    f"{design.respondents} respondents but an audience size of "
                    f"{design.audience_size:g}: no finite population correction",
                )
            )
            continue
        sizes[wave] = design.audience_size
    return sizes


def _failed_rows(prepared: Prepared) -> pd.DataFrame:
    """Blank indicator rows for the waves that could not be weighted (their notes say why)."""
    instrument = prepared.instrument
    units = [("item", q.id) for q in instrument.scale_questions]
    units += [("index", index) for index in INDEXES if instrument.index_questions(index)]
    units += [
        ("outcome", o)
        for o in dict.fromkeys(o for q in instrument.scale_questions for o in q.outcomes)
    ]
    rows = [
        {
            "instrument": instrument.id,
            "audience": prepared.audience,
            "wave": wave,
            "level": level,
            "id": identifier,
            "by": None,
            "group": None,
            "n": np.nan,
            "suppressed": False,
        }
        for wave in prepared.failed
        for level, identifier in units
    ]
    return pd.DataFrame(rows, columns=INDICATOR_COLUMNS).astype({"suppressed": bool})


def _designs(prepared: Prepared, sizes: Mapping[str, float]) -> pd.DataFrame:
    rows = [
        {
            "instrument": prepared.instrument.id,
            "audience": prepared.audience,
            "wave": wave,
            "respondents": d.respondents,
            "audience_size": d.audience_size,
            "fpc": d.respondents / sizes[wave] if wave in sizes else np.nan,
            "weighting": d.weighting,
            "trimmed": d.trimmed,
        }
        for wave, d in prepared.designs.items()
    ]
    rows += [
        {
            "instrument": prepared.instrument.id,
            "audience": prepared.audience,
            "wave": wave,
            "weighting": f"not estimated ({reason})",
        }
        for wave, reason in prepared.failed.items()
    ]
    return pd.DataFrame(rows, columns=DESIGN_COLUMNS[:-2])


def _design_table(
    parts: list[pd.DataFrame],
    indicators: pd.DataFrame,
    thresholds: Mapping[str, int],
    rank: Mapping[str, int],
) -> pd.DataFrame:
    """Per audience-wave: respondents, FPC, weighting, trimming and the range of the design
    effects of its whole-audience estimates (the methodology sections read this)."""
    if not parts:
        return _empty(DESIGN_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    overall = indicators[indicators["by"].isna()]
    deffs = overall.groupby(["instrument", "wave"])["deff"].agg(["min", "max"])
    keys = pd.MultiIndex.from_frame(table[["instrument", "wave"]])
    table["deff_min"] = deffs["min"].reindex(keys).to_numpy()
    table["deff_max"] = deffs["max"].reindex(keys).to_numpy()
    table = suppress(
        table.rename(columns={"respondents": "n"}),
        thresholds,
        blank=["fpc", "deff_min", "deff_max"],
    ).rename(columns={"n": "respondents"})
    table["wave_rank"] = table["wave"].map(rank)
    table = table.sort_values(["instrument", "wave_rank"], kind="stable")
    return table[DESIGN_COLUMNS].reset_index(drop=True)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _sorted(indicators: pd.DataFrame, rank: Mapping[str, int]) -> pd.DataFrame:
    keys = pd.DataFrame(
        {
            "instrument": indicators["instrument"],
            "level": indicators["level"].map({lvl: i for i, lvl in enumerate(LEVELS)}),
            "id": indicators["id"].map(_natural_key),
            "by": indicators["by"].astype(object).fillna(""),
            "group": indicators["group"].astype(object).fillna(""),
            "wave": indicators["wave"].map(rank),
        }
    )
    return indicators.loc[keys.sort_values(list(keys.columns), kind="stable").index]


def _natural_key(identifier: str) -> str:
    head = identifier.rstrip("0123456789")
    tail = identifier[len(head) :]
    return f"{head}{int(tail):09d}" if tail else identifier


# --------------------------------------------------------------------------- indicators


def _index_items(prepared: Prepared) -> dict[str, tuple[str, list[str]]]:
    """``level:id`` -> (level, item ids) of every index and outcome of the instrument."""
    instrument = prepared.instrument
    sets: dict[str, tuple[str, list[str]]] = {}
    for index in INDEXES:
        items = [q.id for q in instrument.index_questions(index)]
        if items:
            sets[f"index:{index}"] = ("index", items)
    for outcome in dict.fromkeys(o for q in instrument.scale_questions for o in q.outcomes):
        sets[f"outcome:{outcome}"] = (
            "outcome",
            [q.id for q in instrument.outcome_questions(outcome)],
        )
    return sets


def _respondent_score(
    prepared: Prepared, level: str, items: list[str], rows=slice(None)
) -> pd.Series:
    """Per-respondent index score (mean 0-100 item score) or outcome score (% of the answered
    items positive); NaN where fewer than half of the ``items`` the respondent was asked
    were answered (an item not asked, ``na``, does not count)."""
    values = prepared.score[items] if level == "index" else prepared.positive[items] * 100.0
    asked = prepared.asked[items].iloc[rows] if prepared.asked is not None else None
    return respondent_mean(values.iloc[rows], 0.5, asked=asked)


def respondent_scores(prepared: Prepared) -> pd.DataFrame:
    """Per-respondent index and outcome scores, by column ``level:id``."""
    columns = {
        key: _respondent_score(prepared, level, items)
        for key, (level, items) in _index_items(prepared).items()
    }
    return pd.DataFrame(columns, index=prepared.frame.index)


def _indicators(
    prepared: Prepared, by: Sequence[str], sizes: Mapping[str, float], respondent: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicator rows for one instrument and auxiliary columns the tests of change need."""
    waves = prepared.waves.astype(str).rename("wave")
    weight = prepared.weight
    tables = []
    # a breakdown column an instrument never fills (another instrument's attribute) is skipped
    filled = [c for c in by if breakdown_filled(prepared.frame, c)]
    for column in [None, *filled]:
        domain = None if column is None else breakdown_labels(prepared.frame, column)
        items = grouped_means(prepared.positive, weight, design=waves, domain=domain)
        scores = grouped_means(prepared.score, weight, design=waves, domain=domain)
        tables.append(
            _rows(
                prepared,
                items,
                "item",
                column,
                sizes,
                mean_score=scores["mean"].reindex(items.index),
            )
        )
        if not respondent.empty:
            combined = grouped_means(respondent, weight, design=waves, domain=domain)
            tables.append(_rows(prepared, combined, None, column, sizes))
        if prepared.numbers is not None and not prepared.numbers.empty:
            numbers = grouped_means(prepared.numbers, weight, design=waves, domain=domain)
            if len(numbers):
                rows = _rows(prepared, numbers, "number", column, sizes)
                rows["median"] = _medians(prepared, numbers.index, waves, domain)
                tables.append(rows)
    table = pd.concat(tables, ignore_index=True)
    if "median" not in table:
        table["median"] = np.nan
    return table[INDICATOR_COLUMNS], table.drop(columns=INDICATOR_COLUMNS)


def _medians(
    prepared: Prepared, groups: pd.Index, waves: pd.Series, domain: pd.Series | None
) -> np.ndarray:
    """The weighted median of each number question in each (wave, group) of ``groups``."""
    numbers = prepared.numbers if prepared.numbers is not None else pd.DataFrame()
    wave_labels = waves.to_numpy()
    group_labels = domain.to_numpy() if domain is not None else None
    out = []
    for key in groups:
        item, wave, *group = key
        rows = wave_labels == wave
        if group and group_labels is not None:
            rows &= group_labels == group[0]
        out.append(weighted_median(numbers[item].to_numpy()[rows], prepared.weight[rows]))
    return np.asarray(out, dtype=float)


def _rows(
    prepared: Prepared,
    stats: pd.DataFrame,
    level: str | None,
    by: str | None,
    sizes: Mapping[str, float],
    mean_score: pd.Series | None = None,
) -> pd.DataFrame:
    index = stats.index.to_frame(index=False)
    item_ids = index.iloc[:, 0].astype(str)
    if level is None:
        levels, ids = item_ids.str.split(":", n=1).str[0], item_ids.str.split(":", n=1).str[1]
    else:
        levels, ids = pd.Series(level, index=index.index), item_ids
    weighted = index["wave"].isin(prepared.weighted_waves).to_numpy()
    mean = stats["mean"].to_numpy()
    se = stats["se"].to_numpy()
    n = stats["n"].to_numpy(dtype=float)
    design_n = stats["design_n"].to_numpy(dtype=float)
    f, keep = fpc_fraction(design_n, index["wave"], sizes)
    corrected = np.isfinite(f)
    se_fpc = se * np.sqrt(keep)
    kish = np.where(weighted, stats["n_eff"].to_numpy(), n)
    with np.errstate(divide="ignore"):
        n_eff = kish / keep  # a complete census (f = 1) has an infinite effective n: CI = estimate
    is_item = (levels == "item").to_numpy()
    scale = np.where(is_item, 100.0, 1.0)
    proportion = np.clip(mean, 0, 1)
    census = np.isinf(n_eff)
    wilson = wilson_interval(proportion, np.where(census, np.nan, n_eff))
    wilson_low = np.where(census, proportion, np.asarray(wilson.low))
    wilson_high = np.where(census, proportion, np.asarray(wilson.high))
    ci_low = np.where(is_item, wilson_low * 100.0, mean - Z95 * se_fpc)
    ci_high = np.where(is_item, wilson_high * 100.0, mean + Z95 * se_fpc)
    # Unweighted SD of the values in the group, recovered from the uncorrected domain SE
    # (se^2 = N/(N-1) * SS / n^2 with w = 1), for Welch's test.
    sd = np.full(n.shape, np.nan)
    enough = (n > 1) & (design_n > 1) & np.isfinite(se)
    sd[enough] = np.sqrt(
        se[enough] ** 2
        * n[enough] ** 2
        * (design_n[enough] - 1)
        / design_n[enough]
        / (n[enough] - 1)
    )
    return pd.DataFrame(
        {
            "instrument": prepared.instrument.id,
            "audience": prepared.audience,
            "wave": index["wave"].to_numpy(),
            "level": levels.to_numpy(),
            "id": ids.to_numpy(),
            "by": pd.Series(by, index=index.index, dtype=object),
            "group": index.iloc[:, 2].astype(object)
            if by is not None
            else pd.Series(None, index=index.index, dtype=object),
            "n": n,
            # Every estimate is a percentage or a 0-100 score: a weighted mean of values that
            # are all 100 can come out of floating-point summation as 100.00000000000001.
            "estimate": np.where(
                (levels == "number").to_numpy(), mean, np.clip(mean * scale, 0.0, 100.0)
            ),
            "se": se_fpc * scale,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "mean_score": mean_score.to_numpy() if mean_score is not None else np.nan,
            "deff": stats["deff"].to_numpy() * keep,
            "n_eff": n_eff,
            "fpc": np.where(corrected, f, np.nan),
            "suppressed": False,
            "_weighted": weighted,
            "_fpc": corrected,
            "_n_eff": kish,  # trends use the Kish n without the FPC (the issue keeps trends unchanged)
            "_sd": sd * scale,
        }
    )


def _common_item_estimates(
    prepared: Prepared, by: Sequence[str], sizes: Mapping[str, float], rank: Mapping[str, int]
) -> pd.DataFrame:
    """Index and outcome estimates of consecutive wave pairs on the items both waves have.

    When an item of an index or outcome has no valid answer in one wave of a pair, the
    change is computed on the items present in both (else a missing item moves the score).
    Rows are indicator rows (with aux columns) plus ``wave_from``, ``wave_to``, ``note``."""
    labels = prepared.waves.astype(str).to_numpy()
    waves = sorted(set(labels), key=lambda w: rank.get(w, -1))
    answered = prepared.positive.notna().groupby(labels).any()
    parts = []
    for first, second in itertools.pairwise(waves):
        rows = (labels == first) | (labels == second)
        columns = {}
        notes = {}
        for key, (level, items) in _index_items(prepared).items():
            common = [q for q in items if answered.loc[first, q] and answered.loc[second, q]]
            left_out = [
                q
                for q in items
                if q not in common and (answered.loc[first, q] or answered.loc[second, q])
            ]
            if not left_out or not common:
                continue
            columns[key] = _respondent_score(prepared, level, common, rows)
            absent = {q: second if answered.loc[first, q] else first for q in left_out}
            notes[key] = "on the items in both waves; left out " + ", ".join(
                f"{q} (no valid answers in {w})" for q, w in absent.items()
            )
        if not columns:
            continue
        pair = _pair_prepared(prepared, rows)
        waves_of_pair = pair.waves.astype(str).rename("wave")
        scores = pd.DataFrame(columns, index=pair.frame.index)
        filled = [c for c in by if breakdown_filled(pair.frame, c)]
        for column in [None, *filled]:
            domain = None if column is None else breakdown_labels(pair.frame, column)
            stats = grouped_means(scores, pair.weight, design=waves_of_pair, domain=domain)
            table = _rows(pair, stats, None, column, sizes)
            table["wave_from"], table["wave_to"] = first, second
            table["note"] = [
                notes[f"{lvl}:{i}"] for lvl, i in zip(table["level"], table["id"], strict=True)
            ]
            parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _pair_prepared(prepared: Prepared, rows: np.ndarray) -> Prepared:
    return Prepared(
        prepared.instrument,
        prepared.frame.loc[rows],
        prepared.weight[rows],
        prepared.weighted_waves,
        prepared.positive.loc[rows],
        prepared.score.loc[rows],
    )


# --------------------------------------------------------------------------- reliability


def _reliability(prepared: Prepared) -> pd.DataFrame:
    rows = []
    waves = prepared.frame.groupby("wave", sort=False).indices
    for index in INDEXES:
        items = [q.id for q in prepared.instrument.index_questions(index)]
        if len(items) < 2:
            continue
        scores = prepared.score[items].to_numpy(dtype=float)  # once per index, sliced per wave
        for wave, positions in waves.items():
            result = cronbach_alpha(scores[positions])
            rows.append(
                {
                    "instrument": prepared.instrument.id,
                    "audience": prepared.audience,
                    "wave": str(wave),
                    "index": index,
                    "k": result.k,
                    "n": result.n,
                    "alpha": result.alpha,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                }
            )
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS[:-1])


# --------------------------------------------------------------------------- change and trend

_SERIES_KEYS = ["instrument", "audience", "level", "id", "by", "group"]


def _series(indicators: pd.DataFrame, aux: pd.DataFrame, rank: Mapping[str, int]) -> pd.DataFrame:
    table = pd.concat([indicators, aux], axis=1)
    table["wave_rank"] = table["wave"].map(rank)
    table["by"] = table["by"].astype(object).fillna("")
    table["group"] = table["group"].astype(object).fillna("")
    return table


def _changes(
    indicators: pd.DataFrame,
    aux: pd.DataFrame,
    rank: Mapping[str, int],
    common: pd.DataFrame,
    thresholds: Mapping[str, int],
    not_comparable: pd.DataFrame,
) -> pd.DataFrame:
    if indicators.empty:
        return _empty(CHANGE_COLUMNS)
    table = _series(indicators, aux, rank)
    # consecutive = consecutive among the waves present for the instrument
    present = table.groupby("instrument")["wave_rank"].apply(lambda r: sorted(set(r)))
    next_rank = {
        (inst, r): ranks[i + 1] for inst, ranks in present.items() for i, r in enumerate(ranks[:-1])
    }
    table["next_rank"] = [
        next_rank.get((i, r), -1)
        for i, r in zip(table["instrument"], table["wave_rank"], strict=True)
    ]
    pairs = table.merge(
        table,
        left_on=_SERIES_KEYS + ["next_rank"],
        right_on=_SERIES_KEYS + ["wave_rank"],
        suffixes=("_1", "_2"),
    )
    if pairs.empty:
        return _empty(CHANGE_COLUMNS)
    pairs["note"] = None
    pairs = _with_common_items(pairs, common, thresholds)
    hidden = pairs["suppressed_1"] | pairs["suppressed_2"]
    est1, est2 = pairs["estimate_1"].to_numpy(float), pairs["estimate_2"].to_numpy(float)
    se1, se2 = pairs["se_1"].to_numpy(float), pairs["se_2"].to_numpy(float)
    n1, n2 = pairs["n_1"].to_numpy(float), pairs["n_2"].to_numpy(float)
    # weighted or finite-population-corrected on either side: z on the (corrected) SEs
    by_se = (
        pairs["_weighted_1"] | pairs["_weighted_2"] | pairs["_fpc_1"] | pairs["_fpc_2"]
    ).to_numpy()
    is_item = (pairs["level"] == "item").to_numpy()
    z_prop = two_proportion_ztest(est1 / 100 * n1, n1, est2 / 100 * n2, n2)
    welch = welch_ttest_from_stats(
        est1, pairs["_sd_1"].to_numpy(float), n1, est2, pairs["_sd_2"].to_numpy(float), n2
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        z_weighted = weighted_change_z(est1, se1, est2, se2)
    statistic = np.where(by_se, z_weighted.z, np.where(is_item, z_prop.z, welch.t))
    p_value = np.where(by_se, z_weighted.p_value, np.where(is_item, z_prop.p_value, welch.p_value))
    changes = pd.DataFrame(
        {
            "instrument": pairs["instrument"],
            "audience": pairs["audience"],
            "level": pairs["level"],
            "id": pairs["id"],
            "by": pairs["by"].replace("", np.nan),
            "group": pairs["group"].replace("", np.nan),
            "wave_from": pairs["wave_1"],
            "wave_to": pairs["wave_2"],
            "estimate_from": est1,
            "estimate_to": est2,
            "change": est2 - est1,
            "statistic": statistic,
            "p_value": p_value,
            "mdc": np.asarray(minimum_detectable_change(se1, se2), dtype=float),
            "comparable": True,
            "note": pairs["note"].to_numpy(),
        }
    )
    if not not_comparable.empty:  # a breaking difference between the versions the two waves fielded
        key = ["instrument", "level", "id", "wave_from", "wave_to"]
        flagged = changes[key].merge(not_comparable, on=key, how="left")["note"].to_numpy()
        broken = pd.notna(flagged)
        changes.loc[broken, "comparable"] = False
        changes.loc[broken, "note"] = flagged[broken]
    blank_when_hidden = ["estimate_from", "estimate_to", "change", "statistic", "p_value", "mdc"]
    changes.loc[hidden.to_numpy(), blank_when_hidden] = np.nan
    changes.loc[~changes["comparable"].astype(bool), TEST_COLUMNS[:2] + ["mdc"]] = (
        np.nan
    )  # out of the BH family
    family = ["instrument", "audience", "by", "group", "wave_from", "wave_to"]
    keys = [changes[c].fillna("") for c in family]
    changes["p_adj"] = changes.groupby(keys, sort=False)["p_value"].transform(
        lambda p: pd.Series(benjamini_hochberg(p.to_numpy(float)), index=p.index)
    )
    changes["significant"] = (changes["p_adj"] < 0.05).where(changes["p_adj"].notna())
    changes["significant"] = changes["significant"].astype(object)
    order = pairs["wave_rank_1"].to_numpy()
    changes["_order"] = order
    changes = changes.sort_values(["instrument", "_order"], kind="stable").drop(columns="_order")
    return changes[CHANGE_COLUMNS].reset_index(drop=True)


_PAIR_VALUES = ["n", "estimate", "se", "suppressed", "_weighted", "_fpc", "_n_eff", "_sd"]


def _with_common_items(
    pairs: pd.DataFrame, common: pd.DataFrame, thresholds: Mapping[str, int]
) -> pd.DataFrame:
    """Replace both sides of a pair by its common-item estimates where an index or outcome
    lost an item in one of the two waves; a side under the minimum group size stays hidden."""
    if common.empty:
        return pairs
    common = common.assign(
        by=common["by"].astype(object).fillna(""), group=common["group"].astype(object).fillna("")
    )
    keys = _SERIES_KEYS + ["wave_1", "wave_2"]
    side = {}
    for number, wave_column in ((1, "wave_from"), (2, "wave_to")):
        part = common[common["wave"] == common[wave_column]]
        side[number] = part.rename(columns={"wave_from": "wave_1", "wave_to": "wave_2"}).set_index(
            keys
        )
    indexed = pairs.set_index(keys)
    both = side[1].index.intersection(side[2].index).intersection(indexed.index)
    for number in (1, 2):
        values = side[number].loc[both]
        for column in _PAIR_VALUES:
            if column == "suppressed":
                audiences = pd.Series(values.index.get_level_values("audience"))
                small = values["n"].to_numpy(float) < min_n_for(audiences, thresholds)
                indexed.loc[both, f"suppressed_{number}"] = (
                    indexed.loc[both, f"suppressed_{number}"].to_numpy() | small
                )
            else:
                indexed.loc[both, f"{column}_{number}"] = values[column].to_numpy()
    indexed.loc[both, "note"] = side[1].loc[both, "note"].to_numpy()
    return indexed.reset_index()


def _trends(
    indicators: pd.DataFrame,
    aux: pd.DataFrame,
    rank: Mapping[str, int],
    not_comparable: pd.DataFrame,
) -> pd.DataFrame:
    table = _series(indicators, aux, rank)
    table = table[table["level"] == "item"].sort_values("wave_rank", kind="stable")
    # a trend runs only over the waves after the last break of its item
    last_break: dict[tuple[str, str], int] = {}
    if not not_comparable.empty:
        for row in not_comparable[not_comparable["level"] == "item"].itertuples():
            key = (row.instrument, row.id)
            last_break[key] = max(last_break.get(key, -1), rank[row.wave_to])
    if last_break:
        start = [
            last_break.get((i, q), -1)
            for i, q in zip(table["instrument"], table["id"], strict=True)
        ]
        table = table[table["wave_rank"].to_numpy() >= np.asarray(start)]
    rows = []
    for key, series in table.groupby(_SERIES_KEYS, sort=False):
        if len(series) < 3:
            continue
        waves = ";".join(series["wave"].astype(str))
        if series["suppressed"].any():
            statistic = p_value = np.nan
        else:
            n = np.where(series["_weighted"], series["_n_eff"], series["n"]).astype(float)
            x = series["estimate"].to_numpy(float) / 100 * n
            result = cochran_armitage(x, n)
            statistic, p_value = float(result.chi2), float(result.p_value)
        rows.append(
            dict(zip(_SERIES_KEYS, key, strict=True))
            | {"waves": waves, "statistic": statistic, "p_value": p_value}
        )
    trends = pd.DataFrame(rows, columns=TREND_COLUMNS)
    trends["by"] = trends["by"].replace("", np.nan)
    trends["group"] = trends["group"].replace("", np.nan)
    return trends
