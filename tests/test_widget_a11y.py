"""The dialog is an accessible modal: labelled, focus in and trapped, Esc closes,
focus returns, outcomes announced, and axe-core finds nothing in any built-in language."""

import json

import pytest
from playwright.sync_api import expect
from widget_pages.helpers import AXE, LANGUAGES, open_dialog, pages, select_text  # noqa: F401


def active_in_dialog(page):
    """What has focus inside the dialog's shadow root (its id or tag)."""
    return page.evaluate("""() => { const a = document.querySelector('copydesk-dialog')?.shadowRoot.activeElement;
        return a ? (a.id || a.textContent) : null }""")


def test_focus_moves_in_is_trapped_and_returns(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    page.focus("#focus-me")
    select_text(page, "First paragraph")
    dialog = open_dialog(page)
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog).to_have_accessible_name("Report an error")
    expect(dialog.get_by_label("Comment")).to_be_focused()

    seen = [active_in_dialog(page)]
    for _ in range(5):
        page.keyboard.press("Tab")
        seen.append(active_in_dialog(page))
    # comment -> suggestion -> the kinds (one stop) -> Send -> Cancel -> back to comment; the honeypot is skipped
    assert seen == ["comment", "suggestion", "typo", "Send", "Cancel", "comment"]
    page.keyboard.press("Shift+Tab")
    assert active_in_dialog(page) == "Cancel"

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "focus-me"


def test_focus_that_escapes_to_the_page_is_brought_back(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    select_text(page, "First paragraph")
    open_dialog(page)
    page.evaluate("document.getElementById('focus-me').focus()")
    assert page.evaluate("document.activeElement.tagName") == "COPYDESK-DIALOG"


def test_every_field_is_labelled_and_the_honeypot_is_hidden(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    select_text(page, "First paragraph")
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Comment (optional)")).to_be_visible()
    expect(dialog.get_by_label("Suggested correction (optional)")).to_be_visible()
    honeypot = dialog.locator("input[name=website]")
    expect(honeypot).to_have_attribute("tabindex", "-1")
    expect(honeypot).to_have_attribute("autocomplete", "off")
    assert honeypot.evaluate("e => !!e.closest('[aria-hidden=true]')")
    expect(dialog.get_by_role("textbox")).to_have_count(2)  # the honeypot is not in the a11y tree


def test_outcome_is_announced_in_a_live_region(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    select_text(page, "First paragraph")
    dialog = open_dialog(page)
    status = dialog.get_by_role("status")
    expect(status).to_have_count(1)
    dialog.get_by_role("button", name="Send").click()
    expect(status).to_have_text("Thank you! Now the editors are aware.")
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()


def axe_violations(page, element="copydesk-dialog"):
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("""async element => {
        const r = await axe.run(document.querySelector(element));
        return r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target)}));
    }""", element)
    return result


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_no_violations_in_the_open_dialog(page, pages, lang):  # noqa: F811
    if not AXE.exists():
        pytest.skip("needs `npm ci` in widget/ for axe-core")
    rtl = ' dir="rtl"' if lang in ("ar", "he") else ""
    page.goto(pages.article(f"/axe-{lang}.html", "<article><p>Some words to select.</p></article>",
                            html_attrs=f'lang="{lang}"{rtl}'))
    select_text(page, "words")
    page.keyboard.press("Control+Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_attribute("lang", lang)
    expect(dialog.locator("textarea")).to_be_focused()
    dialog.locator("fieldset label").nth(2).click()  # a kind chosen
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)

    # The other states of the dialog, too: after a send, and the how-to.
    dialog.locator("button").first.click()
    expect(dialog.get_by_role("status")).not_to_have_text("")
    expect(dialog.locator("textarea")).to_have_count(0)
    assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["en", "he"])
def test_axe_finds_no_violations_in_the_notice_of_a_kept_report(new_context, pages, lang):  # noqa: F811
    if not AXE.exists():
        pytest.skip("needs `npm ci` in widget/ for axe-core")
    context = new_context()
    context.route("**/copydesk-dialog.*.js", lambda route: route.abort())
    page = context.new_page()
    page.goto(pages.article(f"/axe-kept-{lang}.html", "<article><p>Some words to select.</p></article>",
                            html_attrs=f'lang="{lang}"'))
    select_text(page, "words")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    violations = axe_violations(page, "copydesk-notice")
    assert violations == [], json.dumps(violations, indent=1)
