"""Accessibility checks shared by the browser tests: axe-core (WCAG 2.2 A/AA), visible
focus, keyboard navigation and reflow at 320 CSS px, with a screenshot of each page."""

from __future__ import annotations

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert len(results.response["passes"]) > 10, "axe-core did not run"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def focus_visible(page) -> bool:
    """The focused element draws a focus indicator (outline, box shadow or its label's)."""
    return page.evaluate("""() => {
        const el = document.activeElement;
        if (!el || el === document.body) return false;
        const styles = [getComputedStyle(el)];
        if (el.labels && el.labels[0]) {
            styles.push(getComputedStyle(el.labels[0], '::before'));
            styles.push(getComputedStyle(el.labels[0], '::after'));
        }
        return styles.some(s => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                                || (s.boxShadow && s.boxShadow !== 'none'));
    }""")


def tab_to(page, selector: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "s => document.activeElement && document.activeElement.matches(s)", selector
        ):
            assert focus_visible(page), f"focus on {selector} is not visible"
            return
    raise AssertionError(f"Tab never reached {selector}")


def check_reflow(page, shots, name: str) -> None:
    """At 320 CSS px wide (also 1280 px at 400% zoom) nothing scrolls sideways."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 640})
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    page.screenshot(path=str(shots / f"{name}-320px.png"), full_page=True)
    page.set_viewport_size(size)
    assert overflow <= 320, f"{name}: the page is {overflow}px wide at a 320px viewport"


def audit(page, shots, name: str, problems: dict[str, list[str]]) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    violations = axe_violations(page)
    if violations:
        problems[name] = violations
    check_reflow(page, shots, name)
