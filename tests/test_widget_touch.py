"""Touch readers: a labelled button appears below a settled selection; touch
laptops keep Ctrl+Enter (touch is not the same as mobile)."""

from playwright.sync_api import expect
from test_widget_flow import DEMO_END, DEMO_START
from widget_pages.helpers import THANKS, open_dialog, select_text, submissions

PHONE = {"has_touch": True, "is_mobile": True, "viewport": {"width": 390, "height": 844}}


def selection_rect(page):
    return page.evaluate("(() => { const r = getSelection().getRangeAt(0).getBoundingClientRect();"
                         " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right} })()")


def test_touch_button_below_the_selection_opens_the_dialog(new_context, demo, live_server):
    page = new_context(**PHONE).new_page()
    page.goto(demo["article_url"])
    page.locator("article h2").first.tap()
    selected = select_text(page, DEMO_START, DEMO_END)
    button = page.locator("copydesk-button").get_by_role("button", name="Report an error")
    expect(button).to_be_visible()

    box, rect = button.bounding_box(), selection_rect(page)
    assert box["y"] >= rect["bottom"]  # never covers the selected text
    assert box["height"] >= 44  # a comfortable touch target

    button.tap()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("mark")).to_have_text(" ".join(selected.split()))
    expect(page.locator("copydesk-button")).to_have_count(0)
    dialog.get_by_role("button", name="Send").tap()
    expect(dialog).to_contain_text(THANKS)
    [row] = submissions(live_server.app)
    assert row.exact == "the weather into a log that was never allowed"


def test_touch_button_goes_away_with_the_selection(new_context, demo):
    page = new_context(**PHONE).new_page()
    page.goto(demo["article_url"])
    page.locator("article h2").first.tap()
    select_text(page, DEMO_START, DEMO_END)
    expect(page.locator("copydesk-button")).to_have_count(1)
    page.evaluate("getSelection().removeAllRanges()")
    expect(page.locator("copydesk-button")).to_have_count(0)


def test_no_touch_button_for_mouse_selections(page, demo):
    page.goto(demo["article_url"])
    page.evaluate("""() => { window.__scripts = [];
        new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(n => __scripts.push(n.src))))
            .observe(document.head, {childList: true}); }""")
    page.locator("article h2").first.click()
    page.clock.install()  # the widget's 400 ms wait for the selection to settle runs on our command
    page.evaluate("() => { window.__changed = new Promise(done => document.addEventListener('selectionchange', done, {once: true})) }")
    select_text(page, DEMO_START, DEMO_END)
    page.evaluate("window.__changed.then(() => true)")  # the widget has seen the selection
    page.clock.run_for(1000)
    # The selection fetched the dialog code ahead (so Ctrl+Enter opens at once), and no button.
    assert [src.split("/")[-1].split(".")[0] for src in page.evaluate("__scripts")] == ["copydesk-dialog"]
    page.clock.run_for(1000)
    expect(page.locator("copydesk-button")).to_have_count(0)


def test_ctrl_enter_still_works_on_a_touch_laptop(new_context, demo):
    page = new_context(has_touch=True).new_page()
    page.goto(demo["article_url"])
    page.locator("article h2").first.tap()
    select_text(page, DEMO_START, DEMO_END)
    expect(open_dialog(page).locator("mark")).to_have_text("the weather into a log that was never allowed")
