"""Trend charts as SVG, drawn on the server with matplotlib (no JavaScript, nothing fetched).

Every chart carries a text alternative (<title> and <desc>) and is always shown above a data
table of the same figures: no chart is the only way to read a number. Suppressed waves are
gaps, and a break in comparability (a question reworded or rescaled) splits the line.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from xml.sax.saxutils import escape

from analysis.rag import amount, format_date

INK = "#0b0c0c"
LINE = "#0b4f6c"
BAND = "#9ec5d6"
TARGET = "#b3261e"  # the target and its trajectory: red, as "off track" is


@dataclass(frozen=True)
class ChartPoint:
    wave: str
    estimate: float | None
    low: float | None
    high: float | None


_STYLE = re.compile(r'style="([^"]*)"')


@cache
def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend, imported on the first chart: it takes about a
    second to import, which every process (``flask results``, a worker) would otherwise pay
    at start-up for pages that draw a chart."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    return plt


def _number(value: float | None) -> float:
    """A missing figure as matplotlib's gap (NaN): it cannot read None in a band."""
    return math.nan if value is None else value


def _presentation_attributes(svg: str) -> str:
    """matplotlib writes ``style="fill: ...; stroke: ..."``; the page's Content Security Policy
    (no inline styles) would drop those and paint everything black. SVG presentation
    attributes (``fill="..."``) say the same and are not styles, so the CSP stays strict."""

    def attributes(match: re.Match) -> str:
        pairs = [part.split(":", 1) for part in match.group(1).split(";") if ":" in part]
        return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)

    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.DOTALL)
    return _STYLE.sub(attributes, svg)


@dataclass(frozen=True)
class References:
    """The reference lines of a measure's chart: its target, its trajectory read at each
    point (None where there is none) and its baseline."""

    target: float | None = None
    trajectory: tuple[float | None, ...] = ()
    baseline: float | None = None


def references_text(
    references: References, labels: list[str], unit: str, target_date: dt.date | None
) -> str:
    """A chart's reference lines in words, for its description (its accessible name carries
    its own figures): e.g. " Target 65% by 31 Mar 2027. Baseline 35%. Trajectory: 2026-Q1
    41%; 2026-Q2 45%." (``labels`` names the point each trajectory value is read at)."""
    text = ""
    if references.target is not None:
        by = f" by {format_date(target_date)}" if target_date else ""
        text += f" Target {amount(references.target, unit)}{by}."
    if references.baseline is not None:
        text += f" Baseline {amount(references.baseline, unit)}."
    read = [
        f"{label} {amount(v, unit)}"
        for label, v in zip(labels, references.trajectory, strict=True)
        if v is not None
    ]
    if read:
        text += " Trajectory: " + "; ".join(read) + "."
    return text


# The chart is drawn 288 user units (4 inches at 72 per inch) wide; at 320 CSS px the page's
# column is about 290 px, so a 13-unit font is never drawn below 12 CSS px (issue 17 §2).
WIDTH_INCHES, HEIGHT_INCHES = 4.0, 3.4
FONT_SIZE = 13
_ID = re.compile(r'\bid="([^"]+)"')


def _unique_ids(svg: str, prefix: str) -> str:
    """Every id in the SVG (and every reference to one) prefixed, so that two charts on one
    page never share an id (a screen reader would announce the first chart's figures for
    the second, and clip paths would cross over)."""
    ids = set(_ID.findall(svg))
    for ident in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{ident}"', f'id="{prefix}-{ident}"')
        svg = svg.replace(f"url(#{ident})", f"url(#{prefix}-{ident})")
        svg = svg.replace(f'href="#{ident}"', f'href="#{prefix}-{ident}"')
    return svg


def chart_id(*parts: str) -> str:
    """An id prefix for a chart from what it shows (letters, digits and hyphens only)."""
    return "chart-" + re.sub(r"[^A-Za-z0-9-]+", "-", "-".join(parts)).strip("-").lower()


def trend_svg(
    points: list[ChartPoint],
    title: str,
    description: str,
    breaks: frozenset[str] = frozenset(),
    unit: str = "%",
    *,
    ident: str = "chart",
    references: References | None = None,
    series: str = "Estimate",
) -> str:
    """An SVG line chart with its 95% confidence band and the measure's target, trajectory and
    baseline as reference lines. ``breaks`` names waves that start a new comparable series
    (the line is not joined across them). Percentages are drawn on the common 0-100 axis; any
    other unit (a KPI's) on its own axis, labelled with the unit; points without an interval
    (a KPI's recorded values) draw no band. ``series`` names the line in the legend. Every id
    is prefixed with ``ident`` (unique on the page); the legend sits below the plot, outside
    it."""
    references = references or References()
    plt = pyplot()
    with plt.rc_context({"svg.fonttype": "none", "font.size": FONT_SIZE}):
        fig, ax = plt.subplots(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=72)
        _draw(ax, points, breaks, unit, references, series)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            fig.legend(
                handles,
                labels,
                loc="outside lower center",
                ncol=2,
                frameon=False,
                fontsize=FONT_SIZE,
                handlelength=1.5,
                columnspacing=1.0,
            )
        fig.set_layout_engine("constrained")
        return inline_svg(fig, title, description, ident)


def inline_svg(fig, title: str, description: str, ident: str = "chart") -> str:
    """A matplotlib figure as SVG to inline in a page: no styles (the CSP), no fixed size (it
    scales), every id prefixed with ``ident`` (unique on the page), and an accessible name and
    description (ids ``IDENT-title``/``-desc``). Closes the figure."""
    plt = pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prologue and DOCTYPE: it is inlined in HTML
    svg = _unique_ids(_presentation_attributes(svg), ident)
    svg = re.sub(
        r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
        rf'<svg \1role="img" aria-labelledby="{ident}-title {ident}-desc" class="pulse-chart"',
        svg,
        count=1,
    )
    head = svg.index(">") + 1
    return (
        svg[:head] + f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>' + svg[head:]
    )


def _segments(points: list[ChartPoint], breaks: frozenset[str]) -> list[list[int]]:
    """Runs of consecutive reported points, split at comparability breaks."""
    segment: list[int] = []
    segments: list[list[int]] = []
    for i, p in enumerate(points):
        if p.wave in breaks and segment:
            segments.append(segment)
            segment = []
        if p.estimate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(i)
    if segment:
        segments.append(segment)
    return segments


def _draw(ax, points, breaks, unit, references: References, series: str) -> None:
    xs = list(range(len(points)))
    segments = _segments(points, breaks)
    banded = [p for p in segments if any(points[i].low is not None for i in p)]
    for part in segments:
        if part in banded:  # no "95% interval" in the legend of values that have none
            ax.fill_between(
                part,
                [_number(points[i].low) for i in part],
                [_number(points[i].high) for i in part],
                color=BAND,
                alpha=0.6,
                linewidth=0,
                label="95% interval" if part is banded[0] else None,
            )
        ax.plot(
            part,
            [_number(points[i].estimate) for i in part],
            color=LINE,
            marker="o",
            linewidth=2,
            label=series if part is segments[0] else None,
        )
    if references.target is not None:
        ax.axhline(references.target, color=TARGET, linewidth=1.5, label="Target")
    if any(v is not None for v in references.trajectory):
        ax.plot(
            xs,
            [_number(v) for v in references.trajectory],
            color=TARGET,
            linestyle="--",
            linewidth=1.5,
            label="Trajectory",
        )
    if references.baseline is not None:
        ax.axhline(references.baseline, color=INK, linestyle=":", linewidth=1.5, label="Baseline")
    for i, p in enumerate(points):
        if p.wave in breaks and i:
            ax.axvline(i - 0.5, color=INK, linestyle="--", linewidth=1)
    # "2026-Q3" as "Q3" over "2026": eight quarters fit across 288 units at 13 units a letter
    ax.set_xticks(xs, [re.sub(r"^(\d{4})-(Q[1-4])$", r"\2\n\1", p.wave) for p in points])
    if unit == "%":
        ax.set_ylim(0, 100)
        ax.set_ylabel("% (0 to 100)")
    else:
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.set_ylabel(unit)
    ax.grid(axis="y", color="#b1b4b6", linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
