"""axe-core finds nothing on any dashboard page, in English and Russian, in the light and
the dark colour scheme (contrast included). The pages are the phone test's: every GET
route of the dashboard from the app's URL map, so a new page is checked without listing it."""

import json

import pytest
import test_dashboard_phone
from test_dashboard_phone import log_in, visit_every_page
from widget_pages.helpers import AXE

# The phone test's newsroom: every kind of thing a page shows.
newsroom = test_dashboard_phone.newsroom

# The checks axe runs: WCAG 2.0-2.2 A and AA, and its best practices.
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""

# The page background of each scheme (static/dashboard.css --bg).
BACKGROUND = {"light": "rgb(247, 247, 249)", "dark": "rgb(18, 19, 22)"}

# Each chart shape's colour and its contrast against the page (WCAG relative luminance).
CHART_COLOURS = """() => {
  const rgb = c => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const page = getComputedStyle(document.body).backgroundColor;
  const out = {};
  for (const el of document.querySelectorAll('svg.chart-svg rect.bar, svg.chart-svg g.axis, svg.chart-svg text, ul.legend rect')) {
    const colour = getComputedStyle(el).fill;
    out[el.getAttribute('class') || el.tagName] = [colour, Math.round(ratio(colour, page) * 10) / 10];
  }
  return out;
}"""


def axe_violations(page):
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    return page.evaluate(AXE_RUN)


@pytest.mark.slow
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("locale", ["en-GB", "ru-RU"])
def test_axe_finds_no_violations_on_any_dashboard_page(new_context, live_server, newsroom, color_scheme,
                                                       locale):
    if not AXE.exists():
        pytest.skip("needs `npm ci` in widget/ for axe-core")
    # bypass_csp: axe is added as an inline script, which the dashboard's CSP refuses.
    context = new_context(color_scheme=color_scheme, locale=locale, bypass_csp=True)

    def check(page, name):
        if name == "dashboard.index":  # the language and the scheme asked for are the ones shown
            assert page.evaluate("document.documentElement.lang") == locale[:2]
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[color_scheme]
        found = axe_violations(page)
        if name == "dashboard.reports":  # the keyboard shortcuts dialog, open
            page.evaluate("document.getElementById('shortcuts').showModal()")
            found += [{"in": "shortcuts dialog", **v} for v in axe_violations(page)]
        return found

    problems = visit_every_page(context, live_server, newsroom, check)
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)



@pytest.mark.slow
def test_chart_colours_follow_the_scheme_and_stand_out(new_context, live_server, newsroom):
    """Bars at least 3:1 against the page (WCAG 1.4.11), chart text 4.5:1 (1.4.3), in both
    schemes, in each its own colours: axe does not measure SVG shapes."""
    seen = {}
    for color_scheme in ("light", "dark"):
        page = new_context(color_scheme=color_scheme).new_page()
        log_in(page, live_server.url)
        page.goto(live_server.url + "/stats")
        seen[color_scheme] = colours = page.evaluate(CHART_COLOURS)
        assert {"bar status-new", "bar status-closed", "bar open", "axis", "label", "value"} <= colours.keys()
        for shape, (colour, ratio) in colours.items():
            assert ratio >= (3 if "bar" in shape else 4.5), f"{shape} {colour}: {ratio}:1 on {color_scheme}"
    assert all(seen["light"][shape][0] != seen["dark"][shape][0] for shape in seen["light"]), seen
