"""The quarterly progress report: a summary of the quarter, the scorecard, a page per priority,
the indices with their reliability, what people said (themes, never a quote unless marked
quotable), methodology and suppression notes, and the data in an appendix. Everything comes
from stored results, so no figure appears that the dashboard would not show."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pandas as pd
from flask import current_app, render_template

from .. import clock
from ..action_plans import YouSaidWeDid, you_said_we_did_by_audience
from ..benchmarks import BenchmarkRow, benchmarks_beside
from ..comments.queries import quotes_for_waves, waves_labelled
from ..dashboard.drilldown import response_rates
from ..dashboard.scorecard import Headline, OutcomeCard, all_cards, headline, scorecard
from ..definitions import current_definitions, fielded_definitions
from ..methodology import wave_methods
from ..models import AnalysisResult
from ..publication import shown_waves
from ..results import table
from ..theme_summary import ThemeFigure, theme_figures
from .summary import Summary, summarise


class ReportError(ValueError):
    pass


@dataclass
class ReportContent:
    """What every format of the report shows (HTML, PDF, slides), from stored results only."""

    wave: str
    previous: str | None  # the quarter before, in the results' wave order
    council: str
    title: str  # the framework's
    board: dict[str, dict[str, list[OutcomeCard]]]
    counts: Headline
    summary: Summary
    benchmarks: list[BenchmarkRow]
    min_size: int  # the smallest group any figure is reported for
    you_said: dict[str, list[YouSaidWeDid]]  # published actions by audience


@dataclass
class Report:
    wave: str
    html: str
    content: ReportContent | None = None

    def as_bytes(self, fmt: str) -> bytes:
        """The report as ``html``, ``pdf`` or ``pptx``."""
        if fmt == "html":
            return self.html.encode("utf-8")
        if fmt == "pdf":
            return self.pdf()
        if fmt == "pptx":
            return self.pptx()
        raise ValueError(f"a report is html, pdf or pptx, not {fmt!r}")

    def pptx(self) -> bytes:
        """The board-pack slides (see :mod:`.slides`)."""
        from .slides import slides  # imported here: only the slides need python-pptx

        if self.content is None:
            raise ReportError("This report was built without its content; build it again")
        return slides(self.content)

    def pdf(self) -> bytes:
        """The same page as a tagged PDF (PDF/UA-1: title, language, structure, reading order).
        Only the app's static files and ``data:`` URLs are read while rendering (see
        :mod:`.fetcher`); call it in an app context."""
        try:
            from weasyprint import HTML  # imported here: only reports need Pango

            from .fetcher import StaticFilesOnly
        except OSError as exc:  # the system's Pango library is missing
            raise ReportError(
                "PDF reports need Pango: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
                f"(the HTML report works without it). {exc}"
            ) from None
        fetcher = StaticFilesOnly(current_app.static_folder or "static")
        return HTML(string=self.html, base_url=fetcher.base_url, url_fetcher=fetcher).write_pdf(
            pdf_variant="pdf/ua-1", pdf_tags=True
        )


def _top_themes(figures: list[ThemeFigure], per_instrument: int = 5) -> list[ThemeFigure]:
    """Each survey's five most mentioned reportable themes; a survey whose themes are all
    suppressed keeps one row, which says why."""
    kept: list[ThemeFigure] = []
    for _, group in groupby(figures, key=lambda f: f.instrument):
        rows = list(group)
        shown = [f for f in rows if not f.suppressed and f.n_commenting]
        kept += shown[:per_instrument] if shown else rows[:1]
    return kept


def _for_wave(frame: pd.DataFrame, wave: str) -> pd.DataFrame:
    return frame[frame["wave"] == wave] if not frame.empty and "wave" in frame else pd.DataFrame()


def build_report(result: AnalysisResult | None, wave: str | None = None) -> Report:
    if result is None or not result.wave_order:
        raise ReportError("There are no results yet: run `flask --app survey_app results` first")
    wave = wave or result.wave_order[-1]
    if wave not in result.wave_order:
        raise ReportError(
            f"No results for wave {wave!r}; waves with results: {', '.join(result.wave_order)}"
        )
    definitions = current_definitions()
    framework = definitions.framework
    board = scorecard(framework, result, up_to=wave)
    cards = all_cards(board)
    counts = headline(cards)
    position = result.wave_order.index(wave)
    previous = result.wave_order[position - 1] if position else None
    fielded = fielded_definitions()
    summary = summarise(
        wave,
        previous,
        board,
        scorecard(framework, result, up_to=previous) if previous else None,
        counts.measures,
        counts.outcomes,
        _response_rates(fielded, wave, result),
    )
    indicators = _for_wave(table(result, "indicators"), wave)
    overall = indicators[indicators["by"].isna()] if not indicators.empty else indicators
    indices = overall[overall["level"] == "index"] if not overall.empty else overall
    reliability = _for_wave(table(result, "reliability"), wave)
    alphas = (
        {}
        if reliability.empty
        else {
            (r.instrument, r.index): float(r.alpha)
            for r in reliability.itertuples()
            if not r.suppressed and pd.notna(r.alpha)  # None or NaN: not computable
        }
    )
    themes = _top_themes(theme_figures(result, wave))
    benchmarks = _benchmarks(fielded, indicators, wave)
    report_waves = shown_waves(result, waves_labelled(wave))
    later = set(result.wave_order[position + 1 :])  # the report stands at its own wave
    you_said = {
        audience: kept
        for audience, actions in you_said_we_did_by_audience().items()
        if (kept := [a for a in actions if a.wave not in later])
    }
    html = render_template(
        "reports/quarterly.html",
        wave=wave,
        framework=framework,
        board=board,
        counts=counts,
        summary=summary,
        benchmarks=benchmarks,
        outcomes=len(cards),
        indices=indices,
        alphas=alphas,
        themes=themes,
        quotes=quotes_for_waves(report_waves),
        report_waves=report_waves,
        you_said=you_said,
        appendix=overall[overall["level"] == "outcome"] if not overall.empty else overall,
        instruments=definitions.instruments,
        result=result,
        generated=clock.now(),
        council=current_app.config["COUNCIL_NAME"],
        min_sizes=framework.min_group_size,
        min_comment=framework.min_comment_group_size,
        methods=wave_methods(result, wave),
    )
    content = ReportContent(
        wave,
        previous,
        current_app.config["COUNCIL_NAME"],
        framework.title,
        board,
        counts,
        summary,
        benchmarks,
        min(framework.min_group_size.values()),
        you_said,
    )
    return Report(wave, html, content)


def _response_rates(definitions, wave: str, result: AnalysisResult) -> list[str]:
    """Rule 5 of the summary: each survey's responses (and rate) in ``wave``."""
    lines = []
    for instrument in sorted(definitions.instruments.values(), key=lambda i: i.title):
        for _, total, size, rate in response_rates(instrument.id, [wave], result):
            line = f"{instrument.title}: {total} responses"
            if size and total.shown:
                line += f" from an audience of {size:,} ({rate})"
            lines.append(line)
    return lines


def _benchmarks(definitions, indicators: pd.DataFrame, wave: str) -> list[BenchmarkRow]:
    """The benchmarks beside our questions' % positive in the report's wave."""
    if indicators.empty or not definitions.benchmarks:
        return []
    items = indicators[(indicators["level"] == "item") & indicators["by"].isna()]
    rows: list[BenchmarkRow] = []
    for instrument_id, mine in items.groupby("instrument"):
        estimates = mine["estimate"].where(~mine["suppressed"].astype(bool))
        frame = pd.DataFrame({wave: estimates.to_numpy()}, index=mine["id"].to_numpy())
        rows += benchmarks_beside(definitions, str(instrument_id), frame)
    return rows


def write_report(
    report: Report, out: Path, formats: tuple[str, ...] = ("html", "pdf")
) -> list[Path]:
    """Write ``quarterly-<wave>.<format>`` for each of ``formats`` into ``out``: every file
    is rendered before any is written, and each appears whole or not at all."""
    out.mkdir(parents=True, exist_ok=True)
    contents = {fmt: report.as_bytes(fmt) for fmt in formats}
    paths = []
    for fmt, content in contents.items():
        path = out / f"quarterly-{report.wave}.{fmt}"
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        partial.replace(path)
        paths.append(path)
    return paths
