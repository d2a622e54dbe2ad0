"""Hostile reader input (XSS payloads) through every field the API accepts, then
looked at in a real browser on every dashboard page that shows it.

Escaping is checked with the page's Content-Security-Policy bypassed, so a payload
that got into the markup would run and be caught; a separate test shows that the
CSP also blocks an inline script on its own.
"""

import re

import pytest
import requests
import sqlalchemy as sa

from conftest import rows
from copydesk.db import db
from copydesk.models import Report, Site, Submission
from copydesk.text import normalize_block, normalize_inline

ORIGIN = "https://daily.example.com"
EMAIL, PASSWORD = "editor@example.com", "correct horse battery"

# Every payload fits the shortest text fields (prefix, suffix, article_published: 64).
PAYLOADS = {
    "script_tags": [
        "<script>window.__xss=1</script>",
        "<svg><script>window.__xss=1</script></svg>",
        "</textarea><script>alert(1)</script>",
        "</title><script>alert(1)</script>",
        "<scr<script>ipt>window.__xss=1</script>",
    ],
    "event_handlers": [
        '<img src=x onerror="window.__xss=1">',
        '<svg onload="window.__xss=1">',
        "<details open ontoggle=window.__xss=1>",
        "<body onload=alert(1)>",
        "<b onmouseover=alert(1)>hover me</b>",
    ],
    "javascript_and_data_urls": [
        '<a href="javascript:window.__xss=1">click</a>',
        '<iframe src="javascript:window.__xss=1"></iframe>',
        "javascript:window.__xss=1",
        "data:text/html,<script>alert(1)</script>",
    ],
    "svg_mathml": [
        "<svg><animate onbegin=window.__xss=1 attributeName=x>",
        "<math><mtext><img src=x onerror=alert(1)></mtext></math>",
        "<svg><foreignObject><img src=x onerror=alert(1)>",
    ],
    "broken_markup": [
        "<img src=x onerror=window.__xss=1",
        "<<script>alert(1);//<</script>",
        '<img """><script>alert(1)</script>">',
        "<!--<img src=--><img src=x onerror=alert(1)//>",
    ],
    "attribute_breakouts": [
        '"><script>window.__xss=1</script>',
        "' autofocus onfocus='window.__xss=1' x='",
        '" autofocus onfocus="window.__xss=1" x="',
        "`><img src=x onerror=alert(1)>",
    ],
    "entity_and_url_encoded": [
        "&lt;script&gt;window.__xss=1&lt;/script&gt;",
        "&#60;img src=x onerror=alert(1)&#62;",
        "&#x3C;svg onload=alert(1)&#x3E;",
        "%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E",
    ],
    "template_injection": [
        "{{7*7}} ${7*7} <%= 7*7 %> #{7*7}",
        "{{ config }} {% print 7*7 %} {{''.__class__}}",
    ],
    "unicode_tricks": [
        "\u202e<script>window.__xss=1</script>",
        "\uff1cscript\uff1ewindow.__xss=1\uff1c/script\uff1e",
        "java\u200bscript:window.__xss=1",
        "<scr\u200bipt>window.__xss=1</scr\u200bipt>",
    ],
    "nul_bytes": [
        "<scr\x00ipt>window.__xss=1</scr\x00ipt>",
        "<img src=x\x00 onerror=alert(1)>",
    ],
}

INLINE_FIELDS = ["exact", "prefix", "suffix", "title", "article_id", "article_section",
                 "article_author", "article_published"]
BLOCK_FIELDS = ["comment", "suggestion"]
LABELS = {"article_id": "Article", "article_section": "Section", "article_author": "Author",
          "article_published": "Published"}

# What the browser must not contain on any dashboard page, whatever the reports say.
INJECTED = """() => {
  const main = document.querySelector('main');
  const all = [...document.querySelectorAll('*')];
  return {
    xss: window.__xss === undefined ? null : String(window.__xss),
    inlineScripts: document.querySelectorAll('script:not([src])').length,
    foreignScripts: [...document.querySelectorAll('script[src]')]
      .filter(s => new URL(s.src).origin !== location.origin).length,
    onAttributes: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on')))
      .map(e => e.outerHTML.slice(0, 120)),
    autofocus: document.querySelectorAll('[autofocus]').length,
    // The desk's own folds (the list's filters, a chart's figures) are not reader markup.
    media: main.querySelectorAll('img, svg, math, iframe, object, embed, details:not(.filter-panel):not(.chart-data), '
                                 + 'video, audio').length,
    badLinks: [...document.querySelectorAll('a[href], area[href], form[action], iframe[src]')]
      .map(e => e.href || e.action || e.src)
      .filter(u => !['http:', 'https:'].includes(new URL(u, location.href).protocol)),
  };
}"""
CLEAN = {"xss": None, "inlineScripts": 0, "foreignScripts": 0, "onAttributes": [], "autofocus": 0,
         "media": 0, "badLinks": []}


def page_url_for(index, payload):
    """A valid http(s) page address that still carries the payload (percent-encoding only
    what a browser's location.href would)."""
    carried = re.sub(r"[\x00\u200b\u202e]", "", payload).replace(" ", "%20")
    return f"{ORIGIN}/xss/{index}?q={carried}"


def hostile_body(site_key, index, payload):
    body = {field: payload for field in INLINE_FIELDS + BLOCK_FIELDS}
    url = page_url_for(index, payload)
    body.update(site=site_key, idempotency_key=f"xss-payload-{index:04d}", lang="en",
                url=url, canonical_url=url + "&canonical=1", position=index)
    return body


def expected_text(field, payload):
    """What the API stores for a field: plain text, normalized, never sanitized."""
    if field in BLOCK_FIELDS:
        return normalize_block(payload)
    value = normalize_inline(payload)
    return {"exact": value.strip(), "prefix": value.lstrip(), "suffix": value.rstrip()}.get(field, value)


@pytest.fixture
def editor_page(live_server, make_editor, new_context):
    """A logged-in editor's page, with the CSP bypassed so only escaping stands between
    a payload and execution; dialogs and CSP reports are recorded."""
    make_editor(EMAIL, PASSWORD)
    context = new_context(bypass_csp=True)
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()
    page.on("dialog", on_dialog)
    login(page, live_server.url)
    return page


def login(page, base_url):
    page.goto(base_url + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/reports")


def file_reports(live_server, make_site, payloads):
    site_key = make_site(origins=[ORIGIN])
    ids = []
    for index, payload in enumerate(payloads):
        response = requests.post(live_server.url + "/api/v1/reports", json=hostile_body(site_key, index, payload),
                                 headers={"Origin": ORIGIN}, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def assert_nothing_injected(page, where):
    # Give event handlers (onload, onfocus, ontoggle) a moment to fire had they been injected.
    page.wait_for_timeout(50)
    assert page.evaluate(INJECTED) == CLEAN, where
    assert page.dialogs == [], where


@pytest.mark.parametrize("family", list(PAYLOADS))
def test_xss_payloads_in_every_reader_field_are_shown_as_text(family, live_server, make_site, editor_page):
    payloads = PAYLOADS[family]
    page = editor_page
    ids = file_reports(live_server, make_site, payloads)

    # Stored as the reader sent it (normalized, not sanitized): escaping happens on output.
    with live_server.app.app_context():
        for report_id, payload in zip(ids, payloads):
            report = db.session.get(Report, report_id)
            for field in INLINE_FIELDS:
                assert getattr(report, field) == expected_text(field, payload), field
            submission = db.session.scalars(sa.select(Submission).where(Submission.report_id == report_id)).one()
            assert (submission.comment, submission.suggestion) == (expected_text("comment", payload),) * 2

    page.goto(live_server.url + "/reports?status=all")
    assert_nothing_injected(page, "report list")
    for report_id, payload in zip(ids, payloads):
        row = page.locator(f'tr[data-report-id="{report_id}"]')
        assert row.locator("mark").text_content() == expected_text("exact", payload)
        assert row.locator("td.page").text_content().startswith(expected_text("title", payload))

    for report_id, payload in zip(ids, payloads):
        page.goto(f"{live_server.url}/reports/{report_id}")
        assert_nothing_injected(page, f"report {report_id}: {payload!r}")
        for field in ("exact", "prefix", "suffix"):
            assert page.locator(f"dd.{field}").text_content() == expected_text(field, payload), field
        assert page.locator("dd.page-title").text_content() == expected_text("title", payload)
        for field, label in LABELS.items():
            dd = page.locator(f'dt:text-is("{label}") + dd')
            assert dd.text_content() == expected_text(field, payload), field
        assert page.locator(".comment span").text_content() == expected_text("comment", payload)
        assert page.locator(".suggestion span").text_content() == expected_text("suggestion", payload)
        # The page address stays one attribute, whatever quotes it carries.
        url = page_url_for(ids.index(report_id), payload)
        link = page.locator("dd.page-url a")
        assert link.get_attribute("href") == url
        assert link.text_content() == url
        assert "noopener" in link.get_attribute("rel").split()
        assert page.locator("a", has_text="&canonical=1").get_attribute("href") == url + "&canonical=1"


def test_template_injection_is_not_evaluated(live_server, make_site, editor_page):
    [report_id] = file_reports(live_server, make_site, ["{{7*7}} ${7*7} {{ config.SECRET_KEY }}"])
    editor_page.goto(f"{live_server.url}/reports/{report_id}")
    text = editor_page.locator("dd.exact").text_content()
    assert text == "{{7*7}} ${7*7} {{ config.SECRET_KEY }}"
    assert "test-secret" not in editor_page.content()


BAD_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "\x01javascript:alert(1)", "java\u200bscript:alert(1)", "javascript://daily.example.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.example.net/x",
    "https://daily.example.com/\u202egpj.exe", "https://daily.example.com/a b",
    "http://evil.example.net\x00.daily.example.com/", "https://daily.example.com:99999/",
    "http:///no-host", "https://",
]


@pytest.mark.parametrize("value", BAD_URLS)
def test_javascript_data_and_disguised_urls_are_refused_naming_the_field(client, app, make_site, value):
    body = hostile_body(make_site(origins=[ORIGIN]), 1, "plain")
    body["url"] = value
    response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN})
    assert response.status_code == 422
    assert response.json["errors"] == {"url": ["Must be an http(s) URL."]}
    assert rows(app, sa.select(Report)) == []


@pytest.mark.parametrize("value", BAD_URLS)
def test_javascript_data_and_disguised_canonical_urls_are_dropped(client, app, make_site, value):
    # The canonical link comes from the page's markup: dropped, never stored, the report kept.
    body = hostile_body(make_site(origins=[ORIGIN]), 1, "plain")
    body["canonical_url"] = value
    response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN})
    assert response.status_code == 201
    assert rows(app, sa.select(Report.canonical_url)) == [(None,)]


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", '"><svg onload=alert(1)>', "en\nx",
                                   "en-" + "x" * 40, "javascript:alert(1)"])
def test_markup_in_lang_is_dropped_not_stored(client, app, make_site, value):
    body = hostile_body(make_site(origins=[ORIGIN]), 1, "plain")
    body["lang"] = value
    response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN})
    assert response.status_code == 201
    assert rows(app, sa.select(Report.lang)) == [("",)]


def test_only_http_urls_become_links_even_for_stored_legacy_rows(live_server, make_site, editor_page):
    """A row that never went through the API (an import, an old version) still cannot
    put a javascript: or data: link on the page."""
    [good_id] = file_reports(live_server, make_site, ["principle keeper"])
    with live_server.app.app_context():
        site = db.session.scalars(sa.select(Site)).first()
        legacy = Report(site_id=site.id, group_key=None, anchor_key="legacy", page_url="javascript:window.__xss=1",
                        page_key="legacy", canonical_url="data:text/html,<script>alert(1)</script>",
                        exact="legacy", status="new")
        db.session.add(legacy)
        db.session.commit()
        legacy_id = legacy.id

    page = editor_page
    page.goto(f"{live_server.url}/reports/{good_id}")
    link = page.locator("dd.page-url a")
    assert link.get_attribute("href") == f"{ORIGIN}/xss/0?q=principle%20keeper"
    assert set(link.get_attribute("rel").split()) >= {"noopener", "noreferrer"}

    page.goto(f"{live_server.url}/reports/{legacy_id}")
    assert_nothing_injected(page, "legacy report")
    assert page.locator("dd.page-url").text_content() == "javascript:window.__xss=1"
    assert page.locator('a[href^="javascript" i], a[href^="data" i]').count() == 0
    assert page.get_by_text("data:text/html,<script>alert(1)</script>").count() == 1


@pytest.mark.parametrize("path", ["/login", "/reports?status=all", "/reports/1", "/account", "/sites", "/sites/1",
                                  "/editors"])
def test_dashboard_pages_send_a_strict_csp_and_have_no_inline_script(path, live_server, make_site, make_editor,
                                                                     new_context):
    file_reports(live_server, make_site, ["<script>window.__xss=1</script>"])
    make_editor(EMAIL, PASSWORD, role="admin")
    page = new_context().new_page()
    if path != "/login":
        login(page, live_server.url)
    response = page.goto(live_server.url + path)
    assert response.status == 200
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert page.evaluate(INJECTED) == CLEAN


def test_csp_blocks_an_inline_script_that_reaches_the_dashboard(live_server, make_editor, new_context):
    make_editor(EMAIL, PASSWORD)
    probe = """() => new Promise(resolve => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective));
      const script = document.createElement('script');
      script.textContent = 'window.__xss = 1';
      document.body.append(script);
      setTimeout(() => resolve({xss: window.__xss === undefined ? null : window.__xss, violations}), 100);
    })"""
    enforced = new_context().new_page()
    login(enforced, live_server.url)
    result = enforced.evaluate(probe)
    assert result["xss"] is None
    assert any(d.startswith("script-src") for d in result["violations"]), result

    # The same probe does run when the policy is bypassed: the probe itself works.
    bypassed = new_context(bypass_csp=True).new_page()
    login(bypassed, live_server.url)
    assert bypassed.evaluate(probe)["xss"] == 1
