"""The quarterly report as a PowerPoint deck for a board pack (python-pptx).

A title slide; the headline (measures by status, then outcomes) with the written summary's
largest significant changes; one slide per priority with each measure's status, latest
figure and target beside a picture of the measures' trends; and the methodology. Every
picture has alt text that gives the figures it draws (PowerPoint's "description"), so the
deck is readable without seeing the charts.

Everything comes from :class:`~.quarterly.ReportContent`, built from the same stored results
as the HTML and PDF: a suppressed group has no figure there (``None``), so a chart leaves a
gap and the alt text and the table say "not reported". Charts are drawn from the figures as
the pages show them (whole percentages): the picture cannot carry more precision than the
text.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from ..dashboard.scorecard import MeasureRow
from ..display import shown_in_unit
from .quarterly import ReportContent
from .summary import stated_amount

INK = RGBColor(0x0B, 0x0C, 0x0C)
GREY = RGBColor(0x50, 0x5A, 0x5F)
LINE = "#0b4f6c"
TARGET = "#aa2a16"
TRAJECTORY = "#505a5f"
STATUS_COLOURS = {
    "met": (RGBColor(0x00, 0x5A, 0x30), RGBColor(0xFF, 0xFF, 0xFF)),
    "on_track": (RGBColor(0x00, 0x5A, 0x30), RGBColor(0xFF, 0xFF, 0xFF)),
    "close": (RGBColor(0xFF, 0xDD, 0x00), INK),
    "off_track": (RGBColor(0xAA, 0x2A, 0x16), RGBColor(0xFF, 0xFF, 0xFF)),
    "none": (RGBColor(0x50, 0x5A, 0x5F), RGBColor(0xFF, 0xFF, 0xFF)),
}
WIDE = (Inches(13.333), Inches(7.5))  # 16:9

METHODOLOGY = [
    "Each measure's latest closed wave is compared with its trajectory: the straight line "
    "from its baseline to its target by the target date. Target met: at or beyond the target. "
    "On track: at or beyond the trajectory. Close: within the measure's margin of it. Off "
    "track: otherwise. An outcome takes the status of its median measure.",
    "Percentages are the share of valid answers that are positive; \u201cdon\u2019t know\u201d "
    "and blanks are left out. Resident samples are weighted to the borough's population by "
    "age and sex. Changes between waves are tested and adjusted with Benjamini\u2013Hochberg "
    "across all figures of a survey; significance never changes a status.",
    "No figure is reported for a group of fewer than {min_size} respondents, on these slides "
    "or anywhere else.",
    "Published benchmarks (the LGA's national polling) are context only and never part of a "
    "status; see the full report for them and for the data tables behind every chart.",
]


def chart_alt_text(rows: Sequence[MeasureRow], priority: str) -> str:
    """The figures a priority's trend picture draws, in words."""
    parts = []
    for row in rows:
        points = ", ".join(
            f"{p.label} {stated_amount(shown_in_unit(p.value, row.unit), row.unit)}"
            for p in row.series
        )
        target = row.target.target
        goal = f"; target {stated_amount(target, row.unit)}" if target is not None else ""
        if row.target.target_date is not None and target is not None:
            goal += f" by {row.target.target_date:%B %Y}"
        parts.append(f"{row.title}: {points or 'no figures yet'}{goal}")
    return f"Trends of the measures of {priority}. " + ". ".join(parts) + "."


def trend_png(rows: Sequence[MeasureRow]) -> bytes:
    """Small multiples, one panel per measure: survey measures on a shared 0-100 axis, KPIs
    in their own units; the target as a dashed line; suppressed waves left as gaps."""
    count = max(len(rows), 1)
    columns = 3 if count > 4 else 2
    lines = math.ceil(count / columns)
    figure, axes = plt.subplots(
        lines, columns, figsize=(6.4, 1.75 * lines + 0.35), squeeze=False, dpi=150
    )
    for panel, row in zip(axes.flat, rows, strict=False):
        labels = [p.label for p in row.series]
        values = [shown_in_unit(p.value, row.unit) for p in row.series]
        xs = range(len(labels))
        panel.plot(
            xs,
            [math.nan if v is None else v for v in values],
            color=LINE,
            marker="o",
            markersize=3,
            linewidth=1.5,
        )
        if row.target.target is not None:
            panel.axhline(row.target.target, color=TARGET, linestyle="--", linewidth=1)
        if row.unit == "%":
            panel.set_ylim(0, 100)
            panel.set_yticks([0, 50, 100])
        else:
            panel.set_ylabel(row.unit, fontsize=7)
        panel.set_xticks(list(xs), [label.replace("20", "", 1) for label in labels], fontsize=6)
        panel.tick_params(axis="y", labelsize=6)
        title = textwrap.shorten(row.title, 60, placeholder="\u2026")
        panel.set_title(textwrap.fill(title, 30), fontsize=6.5, loc="left")
        for side in ("top", "right"):
            panel.spines[side].set_visible(False)
    for panel in list(axes.flat)[len(rows) :]:
        panel.set_visible(False)
    # the legend outside the plots: what the lines are
    figure.text(
        0.01,
        0.005,
        "Solid line: the measure (a gap: not reported). Dashed line: its target.",
        fontsize=6.5,
    )
    figure.tight_layout(pad=0.4, rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _text_box(slide, left, top, width, height, paragraphs, size=14, bold_first=False):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for i, text in enumerate(paragraphs):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = text
        run.font.size = Pt(size)
        run.font.color.rgb = INK
        run.font.bold = bold_first and i == 0
    return box


def _title(slide, text: str) -> None:
    # the default template's layouts are 4:3: stretch the title across the 16:9 slide
    title = slide.shapes.title
    title.left, title.top = Inches(0.5), Inches(0.3)
    title.width, title.height = WIDE[0] - Inches(1), Inches(1)
    title.text = text
    for paragraph in slide.shapes.title.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(28)
            run.font.color.rgb = INK


def _status_table(slide, rows: Sequence[MeasureRow], left, top, width) -> None:
    height = Inches(0.3) * (len(rows) + 1)
    shape = slide.shapes.add_table(len(rows) + 1, 4, left, top, width, height)
    table = shape.table
    for column, (heading, share) in enumerate(
        [("Measure", 0.5), ("Status", 0.2), ("Latest", 0.15), ("Target", 0.15)]
    ):
        table.columns[column].width = Emu(int(width * share))
        table.cell(0, column).text = heading
    for line, row in enumerate(rows, start=1):
        latest = row.latest
        values = [
            row.title,
            row.status.label,
            (
                f"{stated_amount(shown_in_unit(latest.value, row.unit), row.unit)} ({latest.label})"
                if latest
                else "no figures yet"
            ),
            stated_amount(row.target.target, row.unit) if row.target.target is not None else "none",
        ]
        for column, value in enumerate(values):
            table.cell(line, column).text = value
        fill, ink = STATUS_COLOURS[row.status.key]
        status_cell = table.cell(line, 1)
        status_cell.fill.solid()
        status_cell.fill.fore_color.rgb = fill
        for paragraph in status_cell.text_frame.paragraphs:
            for run in paragraph.runs:
                run.font.color.rgb = ink
                run.font.bold = True
    for cell in (table.cell(r, c) for r in range(len(rows) + 1) for c in range(4)):
        for paragraph in cell.text_frame.paragraphs:
            for run in paragraph.runs:
                run.font.size = Pt(9)


def slides(content: ReportContent) -> bytes:
    """The deck as .pptx bytes (module docstring)."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDE
    deck.core_properties.title = f"{content.title}: progress report for {content.wave}"
    deck.core_properties.author = content.council
    deck.core_properties.language = "en-GB"
    width = deck.slide_width
    margin = Inches(0.5)

    title_slide = deck.slides.add_slide(deck.slide_layouts[0])
    title_slide.shapes.title.text = f"{content.title}: progress report for {content.wave}"
    title_slide.placeholders[1].text = f"{content.council} \u00b7 Improvement Pulse"

    counts = content.counts
    summary_slide = deck.slides.add_slide(deck.slide_layouts[5])
    _title(summary_slide, f"Headline for {content.wave}")
    measures = counts.measures
    _text_box(
        summary_slide,
        margin,
        Inches(1.5),
        width - 2 * margin,
        Inches(5.5),
        [
            f"Measures: {measures['met']} target met \u00b7 {measures['on_track']} on track "
            f"\u00b7 {measures['close']} close \u00b7 {measures['off_track']} off track \u00b7 "
            f"{measures['none']} without a rating",
            f"Outcomes: {counts.outcomes['met']} target met \u00b7 "
            f"{counts.outcomes['on_track']} on track \u00b7 {counts.outcomes['close']} close "
            f"\u00b7 {counts.outcomes['off_track']} off track \u00b7 "
            f"{counts.outcomes['none']} without a rating",
            "Largest significant changes:",
            *(
                [f"\u2022 {change.text}." for change in content.summary.changes]
                or ["\u2022 none this quarter."]
            ),
            "These figures say what changed, not why.",
        ],
        size=18,
        bold_first=True,
    )

    for priority, workstreams in content.board.items():
        rows = [row for cards in workstreams.values() for card in cards for row in card.rows]
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        _title(slide, priority)
        table_width = Emu(int((width - 2 * margin) * 0.48))
        _status_table(slide, rows, margin, Inches(1.4), table_width)
        picture_left = margin + table_width + Inches(0.2)
        picture = slide.shapes.add_picture(
            io.BytesIO(trend_png(rows)),
            picture_left,
            Inches(1.4),
            width=width - picture_left - margin,
        )
        if picture.top + picture.height > deck.slide_height:  # many measures: fit the height
            ratio = (deck.slide_height - picture.top - Inches(0.2)) / picture.height
            picture.height = Emu(int(picture.height * ratio))
            picture.width = Emu(int(picture.width * ratio))
        picture._element.nvPicPr.cNvPr.set("descr", chart_alt_text(rows, priority))
        picture.name = f"Trends: {priority}"

    for audience, actions in sorted(content.you_said.items()):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        _title(slide, f"You said, we did: {audience}")
        _text_box(
            slide,
            margin,
            Inches(1.4),
            width - 2 * margin,
            Inches(5.6),
            [
                f"You said: {action.heard}"
                + (f" ({action.figure})" if action.figure else "")
                + f". We are doing: {action.title} ({action.status},"
                f" due {action.due_on.strftime('%-d %B %Y')})."
                for action in actions
            ],
            size=14,
        )

    method = deck.slides.add_slide(deck.slide_layouts[5])
    _title(method, "Methodology")
    _text_box(
        method,
        margin,
        Inches(1.4),
        width - 2 * margin,
        Inches(5.6),
        [text.format(min_size=content.min_size) for text in METHODOLOGY],
        size=16,
    )
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()
