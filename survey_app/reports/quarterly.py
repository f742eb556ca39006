"""The quarterly progress report: a summary of the quarter, the scorecard, a page per priority,
the indices with their reliability, what people said (themes, never a quote unless marked
quotable), methodology and suppression notes, and the data in an appendix. Everything comes
from stored results, so no figure appears that the dashboard would not show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from flask import current_app, render_template

from .. import clock
from ..comments.queries import quotes_for_waves, waves_labelled
from ..dashboard.scorecard import all_cards, headline, scorecard
from ..definitions import current_definitions
from ..methodology import wave_methods
from ..models import AnalysisResult
from ..publication import shown_waves
from ..results import table


class ReportError(ValueError):
    pass


@dataclass
class Report:
    wave: str
    html: str

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
            if not r.suppressed and r.alpha == r.alpha  # NaN: not computable
        }
    )
    themes = _for_wave(table(result, "themes"), wave)
    if not themes.empty:
        themes = themes[
            themes["by"].isna() & ~themes["suppressed"].astype(bool) & (themes["count"] > 0)
        ]
        themes = (
            themes.sort_values(["instrument", "share"], ascending=[True, False])
            .groupby("instrument")
            .head(5)
        )
    html = render_template(
        "reports/quarterly.html",
        wave=wave,
        framework=framework,
        board=board,
        counts=headline(cards),
        outcomes=len(cards),
        indices=indices,
        alphas=alphas,
        themes=themes,
        quotes=quotes_for_waves(shown_waves(result, waves_labelled(wave))),
        appendix=overall[overall["level"] == "outcome"] if not overall.empty else overall,
        instruments=definitions.instruments,
        result=result,
        generated=clock.now(),
        council=current_app.config["COUNCIL_NAME"],
        min_sizes=framework.min_group_size,
        methods=wave_methods(result, wave),
    )
    return Report(wave, html)


def write_report(report: Report, out: Path) -> tuple[Path, Path]:
    """Write ``quarterly-<wave>.html`` and ``.pdf`` into ``out`` (never a half-written file)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / f"quarterly-{report.wave}.html", out / f"quarterly-{report.wave}.pdf")
    for path, content in zip(paths, (report.html.encode("utf-8"), report.pdf()), strict=True):
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        partial.replace(path)
    return paths
