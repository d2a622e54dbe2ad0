"""The widget and the publisher's page leave each other alone: nothing happens at
page load, hostile page CSS and scripts do not break the dialog, the dialog does
not change the page, and a strict Content-Security-Policy is enough."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from widget_pages.helpers import (LANGUAGES, THANKS, open_dialog, pages, select_text, submissions,  # noqa: F401
                                  texts)

# Runs in the page before its own scripts: records what happens once parsing is
# done (deferred scripts run then), when the widget runs.
WATCH_LOAD = """
window.__seen = {mutations: [], layout: []};
document.addEventListener('readystatechange', () => {
  if (document.readyState !== 'interactive') return;
  new MutationObserver(records => records.forEach(r => __seen.mutations.push(
    r.type + ' on ' + (r.target.nodeName || '') + ' ' + (r.target.getAttribute?.('id') || '')
  ))).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  for (const [proto, name] of [[Element.prototype, 'getBoundingClientRect'], [Element.prototype, 'getClientRects'],
                               [Range.prototype, 'getBoundingClientRect'], [window, 'getComputedStyle']]) {
    const original = proto[name];
    proto[name] = function () { __seen.layout.push(name); return original.apply(this, arguments); };
  }
  for (const name of ['offsetWidth', 'offsetHeight', 'offsetTop', 'offsetLeft', 'clientWidth', 'clientHeight']) {
    const d = Object.getOwnPropertyDescriptor(HTMLElement.prototype, name) ||
              Object.getOwnPropertyDescriptor(Element.prototype, name);
    Object.defineProperty(HTMLElement.prototype, name, {configurable: true,
      get() { __seen.layout.push(name); return d.get.call(this); }});
  }
});
"""
GLOBALS = "Object.getOwnPropertyNames(window)"
STATIC = Path(__file__).resolve().parent.parent / "static"


def kind_counts(app):
    from copydesk.db import db
    from copydesk.models import Report
    with app.app_context():
        return [report.kind_counts for report in db.session.scalars(sa.select(Report))]


def page_pair(pages, body):  # noqa: F811
    """The same page with the widget, and with its script tag made inert."""
    live = pages.article("/with.html", body)
    inert = pages.add("/without.html", pages.pages["/with.html"][0].replace("<script ", '<script type="text/plain" '))
    return live, inert


def test_page_load_makes_no_request_adds_no_node_and_does_no_layout(new_context, pages, live_server):  # noqa: F811
    context = new_context()
    context.add_init_script(WATCH_LOAD)
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    live, inert = page_pair(pages, "<article><p>Quiet page.</p></article>")

    page.goto(live)
    page.wait_for_load_state("networkidle")
    # The loader and the page's texts in its language (the hint, and the notice for a desk out of reach).
    [release] = {p.name.split(".")[1] for p in STATIC.glob("copydesk-dialog.*.js")}
    assert requests == [live, live_server.url + "/static/copydesk.js",
                        f"{live_server.url}/static/copydesk-en.{release}.json"]
    assert page.evaluate("__seen") == {"mutations": [], "layout": []}
    html = page.evaluate("document.documentElement.outerHTML")
    new_globals = set(page.evaluate(GLOBALS))

    page.goto(inert)
    page.wait_for_load_state("networkidle")
    assert html == page.evaluate("document.documentElement.outerHTML").replace('<script type="text/plain" ', "<script ")
    assert len(new_globals - set(page.evaluate(GLOBALS))) <= 1


def test_footer_hint_is_the_only_change_at_load(new_context, pages):  # noqa: F811
    context = new_context()
    context.add_init_script(WATCH_LOAD)
    page = context.new_page()
    page.goto(pages.article("/hint.html", '<p>Text.</p><p id="hint" data-copydesk-hint></p>'))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("__seen") == {"mutations": ["childList on P hint"], "layout": []}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialog_works_on_a_hostile_page_and_leaves_it_unchanged(page, pages, live_server, lang):  # noqa: F811
    # The same hostile page, in the reader's language.
    hostile = (Path(__file__).parent / "widget_pages" / "hostile.html").read_text()
    page.goto(pages.add(f"/hostile-{lang}.html", hostile.replace('lang="en"', f'lang="{lang}"')))
    words = texts(lang)
    globals_before = set(page.evaluate(GLOBALS))
    before = page.evaluate("document.documentElement.outerHTML")
    select_text(page, "typos reported")
    dialog = open_dialog(page)

    box = dialog.bounding_box()
    assert box["width"] >= 300 and box["height"] >= 200  # not shrunk by `html { font-size: 5px }`
    comment = dialog.get_by_label(words["comment"])
    assert comment.evaluate("e => getComputedStyle(e).fontSize") == "16px"
    expect(dialog.locator("mark")).to_have_text("typos reported")
    comment.fill("still works")
    dialog.get_by_text(words["link"]).click()
    dialog.get_by_role("button", name=words["send"]).click()  # clickable above the page's overlay
    expect(dialog.get_by_role("status")).to_have_text(words["thanks"])
    dialog.get_by_role("button", name=words["close"]).click()
    expect(dialog).to_have_count(0)

    assert page.evaluate("document.documentElement.outerHTML") == before
    assert len(set(page.evaluate(GLOBALS)) - globals_before) <= 1
    [row] = submissions(live_server.app)
    assert (row.exact, row.comment) == ("typos reported", "still works")
    assert kind_counts(live_server.app) == [{"link": 1}]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_works_under_a_strict_content_security_policy(new_context, pages, live_server, lang):  # noqa: F811
    csp = ("default-src 'self'; script-src {{desk}}; style-src {{desk}}; connect-src {{desk}}; "
           "img-src 'none'; base-uri 'none'")
    url = pages.article("/csp.html", "<article><p>A newsroom with a strict policy.</p></article>",
                        headers={"Content-Security-Policy": csp}, html_attrs=f'lang="{lang}"')
    words = texts(lang)
    context = new_context()
    context.add_init_script("""window.__violations = [];
        document.addEventListener('securitypolicyviolation', e => __violations.push(e.violatedDirective + ' ' + e.blockedURI));""")
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(url)
    select_text(page, "strict policy")
    dialog = open_dialog(page)
    # Styled, so the constructable stylesheet applied despite style-src.
    assert dialog.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    assert dialog.evaluate("e => getComputedStyle(e.getRootNode().host).position") == "fixed"
    kind = dialog.get_by_role("radio", name=words["typo"])
    dialog.get_by_text(words["typo"]).click()
    expect(kind).to_be_checked()
    assert kind.evaluate("e => e.closest('label').getBoundingClientRect().height") >= 44  # styled here too
    dialog.get_by_role("button", name=words["send"]).click()
    expect(dialog.get_by_role("status")).to_have_text(words["thanks"])

    assert page.evaluate("__violations") == []
    assert not [m for m in console if "Content Security Policy" in m]
    assert [row.exact for row in submissions(live_server.app)] == ["strict policy"]


@pytest.mark.parametrize("attr", ["data-endpoint", "data-endpoint-slash"])
def test_data_endpoint_overrides_the_scripts_origin(page, pages, live_server, attr):  # noqa: F811
    # The loader comes from the page's origin, as a CDN copy would; reports still go to the desk.
    endpoint = live_server.url + ("/" if attr.endswith("slash") else "")
    for built in STATIC.glob("copydesk*"):
        if built.suffix in (".js", ".json"):
            pages.add(f"/cdn/{built.name}", built.read_text(encoding="utf-8"))
    url = pages.add("/cdn.html", f"""<!doctype html><html lang="en"><head><title>CDN</title>
        <script src="/cdn/copydesk.js" data-site="{{{{site}}}}" data-endpoint="{endpoint}" defer></script>
        </head><body><p>Loaded from elsewhere.</p></body></html>""")
    page.goto(url)
    select_text(page, "elsewhere")
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    assert [row.exact for row in submissions(live_server.app)] == ["elsewhere"]
