"""The whole product in one browser: a reader reports, an editor triages."""

import re

import pytest
from playwright.sync_api import expect

from conftest import report_body
from test_api import post
from test_widget_flow import report_via_widget


def live_desk(live_server, make_editor, site_key, count, key_prefix):
    """An editor and ``count`` new reports (#1 oldest) on the live server, for a browser test."""
    make_editor()
    client = live_server.app.test_client()
    ids = [post(client, report_body(site_key, idempotency_key=f"{key_prefix}-{i:08d}", exact=f"error number {i}"))
           .json["id"] for i in range(count)]
    return {"ids": ids, "url": live_server.url, "app": live_server.app}


def log_in(page, base_url, email, password):
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()


@pytest.mark.parametrize("platform", ["linux", "mac"])
def test_reader_reports_and_editor_confirms_and_closes(new_context, live_server, demo, platform):
    options = {}
    if platform == "mac":
        from widget_pages.helpers import MAC_PLATFORM, MAC_UA
        options["user_agent"] = MAC_UA
    context = new_context(**options)
    if platform == "mac":
        context.add_init_script(MAC_PLATFORM)
    page = context.new_page()
    sent = report_via_widget(page, demo["article_url"], comment="Looks like a missing word.",
                             suggestion="the weather into a log which was never allowed",
                             key="Meta+Enter" if platform == "mac" else "Control+Enter")

    log_in(page, live_server.url, demo["email"], demo["password"])
    expect(page.locator('.count[data-status="new"]')).to_have_text("1")
    page.get_by_role("link", name="Report #1").click()

    quote = page.locator(".quote")
    expect(quote.locator("mark")).to_have_text(sent["exact"])
    expect(page.locator("dd.exact")).to_have_text(sent["exact"])
    # Prefix and suffix read as they do on the page (whitespace at the edges included).
    assert page.locator("dd.prefix").evaluate("e => e.textContent") == sent["prefix"]
    assert page.locator("dd.suffix").evaluate("e => e.textContent") == sent["suffix"]
    expect(page.locator("dd.page-title")).to_have_text("The Lighthouse Keepers of Skerryvore — Copydesk demo")
    expect(page.locator("dd.page-url a")).to_have_attribute("href", demo["article_url"])
    expect(page.locator(".comment")).to_contain_text("Looks like a missing word.")
    expect(page.locator(".suggestion")).to_contain_text("the weather into a log which was never allowed")

    # Opened from the list, an action goes on to the list's next report: here, the list itself.
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".flash[role=status]")).to_have_text("Confirmed.")
    expect(page).to_have_url(re.compile(r"/reports(\?|$)"))
    page.get_by_role("link", name="Report #1").click()
    page.get_by_role("button", name="Fixed", exact=True).click()
    expect(page.locator(".flash[role=status]")).to_have_text("Closed as fixed.")
    page.goto(live_server.url + "/reports/1")
    expect(page.locator("h1 .badge")).to_have_text("closed: fixed")

    history = page.locator(".events .event")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("Demo Editor changed status from new to confirmed")
    expect(history.nth(1)).to_contain_text("Demo Editor changed status from confirmed to closed")
    expect(history.nth(2)).to_contain_text("Demo Editor changed resolution from none to fixed")
    expect(page.locator('.count[data-status="closed"]')).to_have_text("1")
