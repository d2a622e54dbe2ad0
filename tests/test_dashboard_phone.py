"""Every dashboard page on a 360 px phone (Chromium), in English and Russian: nothing
scrolls sideways, every control is in view, every tap target is at least 44×44 CSS px,
no title breaks in the middle of a word, and the report filters fold away.

The pages come from the app's URL map (every GET route of the dashboard and the login
page), so a page added later is measured without anyone listing it here."""

import pytest
from flask import url_for

from conftest import AuthActions, report_body
from copydesk.checks import PageCheck
from copydesk.db import db
from copydesk.models import Report, SenderBlock, Submission
from copydesk.notify.models import Rule
from test_api import post

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
ADMIN = "managing.editor@northern-chronicle.example.com"
PASSWORD = "correct horse battery"
SITE_NAME = "Northern Chronicle Correspondents Quarterly"
ORIGIN = "https://www.northern-chronicle-correspondents.example.com"
TITLE = "Parliamentary committee postpones counterrevolutionaries’ infrastructure decision indefinitely"
# WCAG 2.5.5 (AAA) size; 2.5.8's inline exception lets a link in running text be smaller.
TAP = 44

# Routes that answer with no HTML page to measure.
NOT_HTML = {
    "dashboard.reports_export_csv": "a CSV download",
    "dashboard.reports_export_jsonl": "a JSON Lines download",
}
# Pages worth measuring in more than one state: {endpoint: [query arguments, ...]}.
VARIANTS = {
    "dashboard.reports": [{"status": "all"}, {"status": "closed"}],
    "dashboard.reports_close_changed": [{"status": "all"}],
    "dashboard.notifications": [{}, {"add": "telegram"}, {"add": "webhook"}],
    "dashboard.article": [{"site": "{site_id}", "page": "{page}"}],
    "dashboard.stats": [{}, {"days": "365"}],
}

# What the page looks like to the test, measured in the browser. A control counts when it is
# rendered: the contents of a closed <dialog> or <details> are not (they open on request).
MEASURE = """(width) => {
  const tap = %d;
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth, outOfView: [], small: [],
               brokenWords: []};
  const shown = el => !el.closest('dialog:not([open])')
    && !(el.closest('details:not([open])') && !el.closest('details:not([open]) > summary'));
  const name = el => el.outerHTML.slice(0, 100);
  // WCAG 2.5.8's inline exception: a link inside a sentence of running text.
  const inSentence = el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = el.parentElement.closest('p, li, dd, td, th, figcaption, small');
    if (!block) return false;
    const copy = block.cloneNode(true);
    copy.querySelectorAll('a, button, input, select, textarea').forEach(c => c.remove());
    return /\\p{L}/u.test(copy.textContent);
  };
  const controls = 'button, select, textarea, input:not([type=hidden]), a[href], summary';
  for (const el of document.querySelectorAll(controls)) {
    if (!shown(el) || el.closest('.visually-hidden')) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden'
        || box.left < 0 || box.right > width) { out.outOfView.push(name(el)); continue; }
    // A check box or radio button is tapped through its label too.
    const boxes = [box, ...[...(el.labels || [])].map(l => l.getBoundingClientRect())];
    const w = Math.max(...boxes.map(b => b.width)), h = Math.max(...boxes.map(b => b.height));
    if ((w < tap - 0.5 || h < tap - 0.5) && !inSentence(el))
      out.small.push(`${Math.round(w)}×${Math.round(h)} ${name(el)}`);
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
}""" % TAP


@pytest.fixture
def newsroom(live_server, make_site, make_editor):
    """Every kind of thing a dashboard page shows, with long names: an admin, editors with
    long addresses, a site with a long name, a report on a long page with a page check, a
    report closed as spam with its sender blocked, a notification rule and audit entries.
    Returns the values the dashboard's URLs take (``report_id``, ``site_id``, ...)."""
    make_editor(ADMIN, role="admin")
    for name in ("correspondent", "night.desk.subeditor"):
        make_editor(f"{name}@northern-chronicle-correspondents.example.com", name=name.title())
    key = make_site(name=SITE_NAME, origins=[ORIGIN])
    client = live_server.app.test_client()
    page_url = (f"{ORIGIN}/2026/11/26/parliamentary-committee-postpones-infrastructure-decision-indefinitely"
                "?utm_source=x")
    article = {"article_id": "politics-2026-11-26-infrastructure", "article_section": "Politics and Parliament",
               "article_author": "Correspondent in the Parliamentary Lobby"}
    first = post(client, report_body(key, url=page_url, canonical_url=None, title=TITLE, exact="infrastructure decison",
                                     **article), origin=ORIGIN)
    spam = post(client, report_body(key, idempotency_key="key-0000000002", url=page_url, canonical_url=None,
                                    title=TITLE, exact="Parliamentary", comment="Buy cheap watches", **article),
                origin=ORIGIN)
    assert first.status_code == spam.status_code == 201
    with live_server.app.app_context():  # the page check found the words changed: a diff to show
        db.session.add(PageCheck(report_id=first.json["id"], state="changed", detail={
            "old": "infrastructure decison", "new": "infrastructure-modernisation-programme decision"}))
        db.session.commit()
        page_key = db.session.get(Report, first.json["id"]).page_key
        submission_id = db.session.scalar(db.select(Submission.id).where(Submission.report_id == first.json["id"]))
    auth = AuthActions(client)
    assert auth.login(ADMIN).status_code == 302
    closed = client.post(f"/reports/{spam.json['id']}/action", data={
        "csrf_token": auth.token(), "action": "close", "resolution": "spam", "block_hours": "24",
        "expected_status": "new"})
    added = client.post("/sites/1/notifications", data={
        "csrf_token": auth.token(), "recipient": "email", "target": "night.desk@northern-chronicle.example.com",
        "mode": "hourly", "section": "Politics and Parliament"})
    assert closed.status_code == added.status_code == 302
    with live_server.app.app_context():
        block_id = db.session.scalar(db.select(SenderBlock.id))
        rule_id = db.session.scalar(db.select(Rule.id))
    assert block_id and rule_id
    return {"report_id": first.json["id"], "site_id": 1, "submission_id": submission_id, "rule_id": rule_id,
            "block_id": block_id, "page": page_key}


def dashboard_pages(app, newsroom):
    """{name: path} of every HTML page an editor can GET, from the app's URL map, plus an error
    page; fails naming any route whose URL arguments the newsroom cannot fill."""
    pages, unfilled = {}, []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint.split(".")[0] not in ("dashboard", "auth") \
                    or rule.endpoint in NOT_HTML:
                continue
            if not rule.arguments <= newsroom.keys():
                unfilled.append(f"{rule.endpoint} needs {sorted(rule.arguments - newsroom.keys())}")
                continue
            for n, query in enumerate(VARIANTS.get(rule.endpoint, [{}])):
                values = {name: str(value).format(**newsroom) for name, value in query.items()}
                pages[rule.endpoint + (f"[{n}]" if n else "")] = url_for(
                    rule.endpoint, **{name: newsroom[name] for name in rule.arguments}, **values)
    assert not unfilled, f"add these URL arguments to the newsroom fixture: {unfilled}"
    # The login page first (logged out), then the index (which logs in), then the rest.
    first = {name: pages.pop(name) for name in ("auth.login", "dashboard.index")}
    return {**first, **pages, "error": "/no-such-page"}


def log_in(page, base_url):
    """Log in through the form, in whatever language the page speaks."""
    page.goto(base_url + "/login")
    page.locator("#email").fill(ADMIN)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/reports**")


def visit_every_page(context, live_server, newsroom, check):
    """Open every dashboard page (logged out for the login page, as the admin for the rest)
    in one browser context; ``check(page, name)`` returns what is wrong (falsy: nothing).
    Returns {page name: what is wrong}, a page that does not answer 200 included."""
    pages = dashboard_pages(live_server.app, newsroom)
    page = context.new_page()
    problems = {}
    for name, path in pages.items():
        if name == "dashboard.index":  # the first page after the login page
            log_in(page, live_server.url)
        answer = page.goto(live_server.url + path)
        if answer.status != (404 if name == "error" else 200):  # a page measured must be the page
            problems[f"{name} {path}"] = f"answered {answer.status}"
            continue
        found = check(page, name)
        if found:
            problems[f"{name} {path}"] = found
    assert "dashboard.stats" in pages and "dashboard.report" in pages  # the map was read
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-GB", "ru-RU"])
def test_every_page_fits_a_phone(new_context, live_server, newsroom, locale):
    width = PHONE["viewport"]["width"]

    def measure(page, name):
        wrong = {}
        # The keyboard shortcuts dialog (on every page; opened with "?") is measured open once.
        for state in ("", "shortcuts dialog open") if name == "dashboard.reports" else ("",):
            if state:
                page.evaluate("document.getElementById('shortcuts').showModal()")
            measured = page.evaluate(MEASURE, width)
            wrong.update({f"{key} {state}".strip(): measured[key] for key in ("outOfView", "small", "brokenWords")
                          if measured[key]})
            # Mobile Chromium widens its viewport (innerWidth) to fit a page wider than the phone.
            if measured["scrollWidth"] > width or measured["innerWidth"] != width:
                wrong[f"scrolls sideways {state}".strip()] = [measured["scrollWidth"], measured["innerWidth"]]
        return wrong

    problems = visit_every_page(new_context(**PHONE, locale=locale), live_server, newsroom, measure)
    assert problems == {}, "\n".join(f"{name}: {wrong}" for name, wrong in problems.items())


@pytest.mark.slow
def test_the_report_filters_fold_away_on_a_phone_and_stay_open_on_a_desk(new_context, live_server, newsroom):
    phone = new_context(**PHONE).new_page()
    log_in(phone, live_server.url)
    status = phone.locator("form.filters select[name=status]")
    assert not status.is_visible()
    phone.locator("details.filter-panel > summary").click()
    assert status.is_visible()

    desk = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(desk, live_server.url)
    assert desk.locator("form.filters select[name=status]").is_visible()


@pytest.mark.slow
def test_editors_page_keeps_its_buttons_on_a_phone(new_context, live_server, newsroom):
    page = new_context(**PHONE).new_page()
    log_in(page, live_server.url)
    page.goto(live_server.url + "/editors")
    for label in ("Deactivate", "Reset password", "Change role"):  # the buttons an old phone rule hid
        assert page.get_by_role("button", name=label).first.is_visible()
