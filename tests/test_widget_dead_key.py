"""Never a dead key: when the dialog code cannot load (desk down, blocked), Ctrl+Enter still tells
the reader, in their language, that the report is saved; the selection goes to the outbox and is
sent once, by the dialog of a later page view."""

import pytest
from playwright.sync_api import expect

from widget_pages.helpers import open_dialog, pages, select_text, submissions, texts  # noqa: F401

DIALOG_CODE = "**/copydesk-dialog.*.js"
ARTICLE = ("<article><h1>Harbour news</h1><p>The keepers logged the weather every night. "
           "They wrote in a recieved hand that was hard to read.</p><p>Next paragraph here.</p></article>")


def outbox(page):
    return page.evaluate("JSON.parse(localStorage.getItem('copydesk:outbox') || '{}')")


@pytest.mark.parametrize("lang", ["en", "uk", "he"])
def test_blocked_dialog_keeps_the_report_and_it_arrives_once(new_context, pages, live_server, lang):  # noqa: F811
    context = new_context()
    context.route(DIALOG_CODE, lambda route: route.abort())
    page = context.new_page()
    url = pages.article(f"/dead-{lang}.html", ARTICLE + '<p><button id="back">A page button</button></p>',
                        html_attrs=f'lang="{lang}"')
    page.goto(url)
    page.focus("#back")
    select_text(page, "recieved")
    page.keyboard.press("Control+Enter")

    words = texts(lang)
    notice = page.get_by_role("dialog", name=words["kept"])
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(words["kept"])
    close = notice.get_by_role("button", name=words["close"])
    expect(close).to_be_focused()
    kept = outbox(page)
    [entry] = kept.values()
    assert entry["b"]["exact"] == "recieved"
    assert entry["c"][0].endswith("They wrote in a ") and entry["c"][1].startswith(" hand that was hard")
    page.keyboard.press("Escape")
    expect(notice).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "back"
    assert submissions(live_server.app) == []

    context.unroute(DIALOG_CODE)
    page.reload()
    page.wait_for_function("!localStorage.getItem('copydesk:outbox')")
    page.reload()
    page.wait_for_load_state("networkidle")
    [row] = submissions(live_server.app)
    # Cut by the dialog as it would have: the sentence around the selection.
    assert (row.prefix, row.exact, row.suffix) == ("They wrote in a ", "recieved", " hand that was hard to read.")
    assert row.page_url == url and row.lang == lang and row.title == "Widget test page"
    assert row.idempotency_key == next(iter(kept))


def test_blocked_dialog_with_nothing_selected_explains_how(new_context, pages):  # noqa: F811
    context = new_context()
    context.route(DIALOG_CODE, lambda route: route.abort())
    page = context.new_page()
    page.goto(pages.article("/dead-howto.html", ARTICLE, html_attrs='lang="de"'))
    page.keyboard.press("Control+Enter")
    notice = page.get_by_role("dialog")
    expect(notice).to_contain_text(texts("de")["hint"])
    notice.get_by_role("button", name=texts("de")["close"]).click()
    expect(notice).to_have_count(0)
    assert outbox(page) == {}


def test_a_hanging_desk_gets_the_notice_and_a_late_dialog_never_opens_as_well(new_context, pages, live_server):  # noqa: F811
    context = new_context()
    held = []
    context.route(DIALOG_CODE, lambda route: held.append(route))  # never answered while held
    page = context.new_page()
    page.clock.install()
    page.goto(pages.article("/dead-slow.html", ARTICLE))
    select_text(page, "recieved")
    page.keyboard.press("Control+Enter")
    page.clock.run_for(3000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.clock.run_for(1500)
    notice = page.get_by_role("dialog", name=texts("en")["kept"])
    expect(notice).to_be_visible()
    assert len(outbox(page)) == 1
    with page.expect_response(lambda response: "/copydesk-dialog." in response.url):
        held[0].continue_()  # the code arrives after all: the reader is not asked twice
    page.evaluate("new Promise(done => requestIdleCallback(done))")  # the code has run
    page.clock.run_for(5000)
    expect(page.locator("copydesk-dialog")).to_have_count(0)
    expect(notice).to_be_visible()


def test_blocked_dialog_under_a_strict_policy(new_context, pages):  # noqa: F811
    # The notice has no styles of its own: nothing for the page's policy to refuse.
    csp = "default-src 'self'; script-src {{desk}}; style-src 'self'; connect-src {{desk}}"
    url = pages.article("/dead-csp.html", ARTICLE, headers={"Content-Security-Policy": csp})
    context = new_context()
    context.add_init_script("""window.__violations = [];
        document.addEventListener('securitypolicyviolation', e => __violations.push(e.violatedDirective));""")
    context.route(DIALOG_CODE, lambda route: route.abort())
    page = context.new_page()
    page.goto(url)
    select_text(page, "recieved")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("dialog", name=texts("en")["kept"])).to_be_visible()
    assert page.evaluate("__violations") == []
