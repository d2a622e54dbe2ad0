"""The server reads a page's article text exactly as the widget captures it in Chromium:
the selection a reader sends is found by a page check at the very offset the widget gave."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from widget_pages.helpers import THANKS, open_dialog, pages, select_text, submissions  # noqa: F401

from copydesk.checks import check_report
from copydesk.checks.models import PageCheck
from copydesk.checks.text import article_texts
from copydesk.db import db
from copydesk.models import Report, Site

# Markup that tells apart a browser's reading from a naive one: blocks and inline
# elements, hidden and not-displayed ones, scripts, fields, entities, invisible characters.
TRICKY = """<header><nav>Home · World</nav></header>
<article>
  <h1>Смотритель маяка: the <em>tricky</em> page</h1>
  <p>First<b>bold</b><i>italic</i> run-on, then<br>a break and&nbsp;a&nbsp;no-break space.</p>
  <p>Zero&#8203;width and soft&shy;hyphen, custom <x-note>inline element</x-note> here.</p>
  <p hidden>Hidden paragraph.</p><p style="display: none">Styled away.</p>
  <p>Script<script>document.title += "";</script> and style<style>p { margin: 0 }</style> skipped.</p>
  <template><p>Template text</p></template><noscript><p>No-script text</p></noscript><!-- comment -->
  <ul><li>One</li><li>Two <span style="display:block">block span</span> end</li></ul>
  <table><tr><th>Head</th><td>Cell</td></tr><tr><td>Row two</td><td>Last cell</td></tr></table>
  <p>Fields: <input value="typed"> <textarea>area text</textarea> <select><option>opt</option></select> <button>Press</button> done.</p>
  <div style="display: inline">Inline div</div><div>Block div</div><span style="display:inline-block">inline block</span>
  <details><summary>Summary</summary>Details body</details>
  <figure><img alt="x" src="data:,"><figcaption>Caption text</figcaption></figure>
  <blockquote>«Цитата» — сказал он.</blockquote>
  <p>Ruby <ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby> and <span style="display: contents">contents</span>,
    long<wbr>word, <span hidden="until-found">until found</span>.</p>
  <dialog>Closed dialog</dialog><audio>No controls</audio>
  <p>Icon <svg viewBox="0 0 10 10"><title>svg title</title><text x="0" y="9">svg text</text><style>s{}</style><g>g<tspan>tspan</tspan></g><foreignObject><div>foreign div</div><span>foreign span</span></foreignObject></svg> after.</p>
  <p>Formula <math><mi>x</mi><mo>=</mo><mn>2</mn></math> and fallbacks: <iframe>iframe text</iframe> <object>object text</object> <video>video text</video> <canvas>canvas text</canvas> end.</p>
  <p>Tabs	and
  newlines   collapse.</p>
</article>
<footer>Footer words</footer>"""


@pytest.fixture
def tricky(pages, live_server):  # noqa: F811
    """The tricky page, on a site that takes whole-article selections and lets checks fetch
    the loopback page server."""
    live_server.app.config["CHECK_ALLOW_PRIVATE"] = True
    with live_server.app.app_context():
        for site in db.session.scalars(sa.select(Site)):
            site.max_selection = 2000
        db.session.commit()
    return pages.article("/tricky.html", TRICKY)


def send(page):
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_contain_text(THANKS)


def server_text(pages, path):  # noqa: F811
    html = pages.fill(pages.pages[path][0])
    return article_texts(html)[0]


def test_server_reads_the_whole_article_as_the_widget_captures_it(page, pages, tricky, live_server):  # noqa: F811
    page.goto(tricky)
    page.evaluate("getSelection().selectAllChildren(document.querySelector('article'))")
    send(page)
    [row] = submissions(live_server.app)
    assert row.exact == server_text(pages, "/tricky.html")
    assert "Hidden" not in row.exact and "Template" not in row.exact and "area text" not in row.exact


@pytest.mark.parametrize(("start", "end"), [
    ("tricky", "italic"), ("break", "no-break"), ("soft", "inline element"), ("Two", "end"),
    ("Cell", "Row two"), ("done.", "Block div"), ("Summary", "Caption"), ("Цитата", "newlines"),
], ids=["inline", "br-nbsp", "invisible", "block-span", "table", "fields-divs", "details-figure",
        "russian-whitespace"])
def test_check_finds_a_readers_selection_where_the_widget_said(page, pages, tricky, live_server, start, end):  # noqa: F811
    page.goto(tricky)
    select_text(page, start, end)
    send(page)
    [row] = submissions(live_server.app)
    text = server_text(pages, "/tricky.html")
    # The widget's prefix, selection and suffix sit in the server's text at its position.
    assert text[row.position:row.position + len(row.exact)] == row.exact
    assert text[:row.position].endswith(row.prefix)
    assert text[row.position + len(row.exact):].startswith(row.suffix)

    with live_server.app.app_context():
        report = db.session.scalars(sa.select(Report)).one()
        assert check_report(report) == "still-there"
        assert db.session.get(PageCheck, report.id).detail == {"offset": row.position, "shift": 0}
