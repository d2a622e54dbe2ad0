"""Every dashboard page on a 360 px phone (Chromium): nothing scrolls sideways, every
control is in view, and no title breaks in the middle of a word."""

import pytest

from conftest import report_body
from copydesk.checks import PageCheck
from copydesk.db import db
from test_api import post
from test_e2e import log_in

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
SITE_NAME = "Northern Chronicle Correspondents Quarterly"
TITLE = "Parliamentary committee postpones counterrevolutionaries’ infrastructure decision indefinitely"

# What the page looks like to the test, measured in the browser.
MEASURE = """(width) => {
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth, outOfView: [], brokenWords: []};
  for (const el of document.querySelectorAll('button, select, textarea, input:not([type=hidden]), a.danger')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden'
        || box.left < 0 || box.right > width) out.outOfView.push(el.outerHTML.slice(0, 100));
  }
  for (const title of document.querySelectorAll('h1, h2, .page-title')) {
    const walker = document.createTreeWalker(title, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      for (const word of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) out.brokenWords.push(word[0]);
      }
    }
  }
  return out;
}"""


@pytest.fixture
def newsroom(live_server, make_site, make_editor):
    """An admin, editors with long addresses, a site with a long name and a report on a long page."""
    make_editor("managing.editor@northern-chronicle.example.com", role="admin")
    for name in ("correspondent", "night.desk.subeditor"):
        make_editor(f"{name}@northern-chronicle-correspondents.example.com", name=name.title())
    key = make_site(name=SITE_NAME, origins=["https://www.northern-chronicle-correspondents.example.com"])
    client = live_server.app.test_client()
    response = post(client, report_body(
        key, url="https://www.northern-chronicle-correspondents.example.com/2026/11/26/"
                 "parliamentary-committee-postpones-infrastructure-decision-indefinitely?utm_source=x",
        canonical_url=None, title=TITLE, exact="infrastructure decison"),
        origin="https://www.northern-chronicle-correspondents.example.com")
    assert response.status_code == 201
    with live_server.app.app_context():  # the page check found the words changed: a diff to show
        db.session.add(PageCheck(report_id=response.json["id"], state="changed", detail={
            "old": "infrastructure decison", "new": "infrastructure-modernisation-programme decision"}))
        db.session.commit()
    return {"report": response.json["id"], "site": 1}


PAGES = {
    "login": "/login",
    "reports": "/reports?status=all",
    "report": "/reports/{report}",
    "sites": "/sites",
    "site": "/sites/{site}",
    "site_remove": "/sites/{site}/remove",
    "editors": "/editors",
    "account": "/account",
    "notifications": "/sites/{site}/notifications",
    "notifications_telegram": "/sites/{site}/notifications?add=telegram",
    "reports_close_changed": "/reports/close-changed?status=all",
    "error": "/no-such-page",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone(new_context, live_server, newsroom, name):
    page = new_context(**PHONE).new_page()
    if name != "login":
        log_in(page, live_server.url, "managing.editor@northern-chronicle.example.com", "correct horse battery")
    page.goto(live_server.url + PAGES[name].format(**newsroom))
    # Mobile Chromium widens its viewport (innerWidth) to fit a page wider than the phone.
    width = PHONE["viewport"]["width"]
    measured = page.evaluate(MEASURE, width)
    assert measured["scrollWidth"] <= width and measured["innerWidth"] == width, \
        f"{name} scrolls sideways: {measured}"
    assert measured["outOfView"] == [], f"{name} has controls out of view"
    assert measured["brokenWords"] == [], f"{name} breaks title words: {measured['brokenWords']}"
    if name == "editors":  # the buttons the old phone rule hid
        for label in ("Deactivate", "Reset password", "Change role"):
            assert page.get_by_role("button", name=label).first.is_visible()
