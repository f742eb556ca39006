"""The drill-down's SVG charts (issue 17 §2): ids unique per chart, the text alternative its
own, reference lines in the legend, KPIs on their own labelled axis, text at 13 units."""

from __future__ import annotations

import re

from survey_app.dashboard.charts import ChartPoint, References, chart_id, trend_svg

POINTS = [ChartPoint("2026-Q1", 40.0, 35.0, 45.0), ChartPoint("2026-Q2", 44.0, 39.0, 49.0)]


def _ids(svg: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', svg))


def test_two_charts_share_no_id_and_each_names_itself() -> None:
    first = trend_svg(POINTS, "O1 for members", "O1: 2026-Q1 40%", ident=chart_id("O1", "m"))
    second = trend_svg(POINTS, "O2 for members", "O2: 2026-Q1 40%", ident=chart_id("O2", "m"))
    assert _ids(first) and not _ids(first) & _ids(second)
    for svg, ident, name in ((first, "chart-o1-m", "O1"), (second, "chart-o2-m", "O2")):
        assert f'aria-labelledby="{ident}-title {ident}-desc"' in svg
        assert f'<title id="{ident}-title">{name} for members</title>' in svg
        # every reference points at an id of the same chart
        for target in re.findall(r'(?:href="#|url\(#)([^")]+)', svg):
            assert target in _ids(svg) and target.startswith(ident)


def test_reference_lines_and_a_kpi_axis_in_its_units() -> None:
    svg = trend_svg(
        POINTS,
        "Budget gap",
        "Budget gap by quarter",
        unit="£m",
        ident="chart-gap",
        references=References(target=0.0, trajectory=(30.0, 24.0), baseline=48.0),
    )
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"Target", "Trajectory", "Baseline", "Estimate", "£m"} <= set(texts)
    sizes = {float(s) for s in re.findall(r'font-size="([\d.]+)px"', svg)}
    assert sizes and min(sizes) >= 13  # 288 units wide: 13 units is 12 CSS px or more at 320
    assert 'style="' not in svg  # presentation attributes only (the CSP forbids inline styles)
    assert "% (0 to 100)" in trend_svg(POINTS, "t", "d", ident="chart-pct")
