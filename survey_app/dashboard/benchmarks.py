"""The drill-down's benchmark panel reads its rows through this template global, so that
the outcome page includes it with one line (templates/dashboard/_benchmarks.html)."""

from __future__ import annotations

from ..benchmarks import BenchmarkRow, benchmarks_beside
from ..definitions import fielded_definitions
from . import bp
from .drilldown import InstrumentView


@bp.app_template_global()
def view_benchmarks(view: InstrumentView) -> list[BenchmarkRow]:
    """The benchmarks beside the questions of one drill-down view."""
    return benchmarks_beside(fielded_definitions(), view.instrument_id, view.items)
