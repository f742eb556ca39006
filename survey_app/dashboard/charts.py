"""Trend charts as SVG, drawn on the server with matplotlib (no JavaScript, nothing fetched).

Every chart carries a text alternative (<title> and <desc>) and is always shown above a data
table of the same figures: no chart is the only way to read a number. Suppressed waves are
gaps, and a break in comparability (a question reworded or rescaled) splits the line.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt

INK = "#0b0c0c"
LINE = "#0b4f6c"
BAND = "#9ec5d6"


@dataclass(frozen=True)
class ChartPoint:
    wave: str
    estimate: float | None
    low: float | None
    high: float | None


_STYLE = re.compile(r'style="([^"]*)"')


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


def trend_svg(
    points: list[ChartPoint],
    title: str,
    description: str,
    breaks: frozenset[str] = frozenset(),
    unit: str = "%",
) -> str:
    """An SVG line chart with its 95% confidence band. ``breaks`` names waves that start a new
    comparable series (the line is not joined across them)."""
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=100)
    xs = list(range(len(points)))
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
    for part in segments:
        ax.fill_between(
            part,
            [_number(points[i].low) for i in part],
            [_number(points[i].high) for i in part],
            color=BAND,
            alpha=0.6,
            linewidth=0,
            label="95% confidence interval" if part is segments[0] else None,
        )
        ax.plot(
            part,
            [_number(points[i].estimate) for i in part],
            color=LINE,
            marker="o",
            linewidth=2,
            label="Estimate" if part is segments[0] else None,
        )
    for i, p in enumerate(points):
        if p.wave in breaks and i:
            ax.axvline(i - 0.5, color=INK, linestyle="--", linewidth=1)
    ax.set_xticks(xs, [p.wave for p in points])
    if unit == "%":
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
    ax.grid(axis="y", color="#b1b4b6", linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if segments:
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    return inline_svg(fig, title, description)


def inline_svg(fig, title: str, description: str, chart_id: str = "chart") -> str:
    """A matplotlib figure as SVG to inline in a page: no styles (the CSP), no fixed size (it
    scales), an accessible name and description (ids ``CHART_ID-title``/``-desc``)."""
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prologue and DOCTYPE: it is inlined in HTML
    svg = _presentation_attributes(svg)
    svg = re.sub(
        r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
        rf'<svg \1role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="pulse-chart"',
        svg,
        count=1,
    )
    head = svg.index(">") + 1
    return (
        svg[:head] + f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + svg[head:]
    )
