"""Sites per editor in Chromium: an admin ticks an editor's sites on the Editors page (on a
phone, too), and the Audit page shows it."""

import pytest
from playwright.sync_api import expect

from test_dashboard_phone import MEASURE, PHONE

PASSWORD = "correct horse battery"
# The site check boxes and their buttons that are not fully in view on the phone.
SITE_CONTROLS_OUT_OF_VIEW = """(width) => [...document.querySelectorAll('.site-choices input[type=checkbox], .site-choices button')]
  .filter(el => { const box = el.getBoundingClientRect(); return !box.width || box.left < 0 || box.right > width; })
  .map(el => el.outerHTML)"""


@pytest.fixture
def newsroom(live_server, make_site, make_editor):
    """An admin, an editor of the first of two sites with long names."""
    first = make_site(name="Northern Chronicle Correspondents Quarterly", origins=["https://north.example.com"])
    make_site(name="Southern Evening Gazette and Advertiser", origins=["https://south.example.com"])
    make_editor("managing.editor@northern-chronicle.example.com", PASSWORD, role="admin", sites=[])
    make_editor("night.desk.subeditor@northern-chronicle-correspondents.example.com", PASSWORD, sites=[first])


def log_in(page, base_url, email):
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/reports")


@pytest.mark.slow
def test_admin_ticks_an_editors_sites_on_a_phone_and_the_audit_page_shows_it(new_context, live_server, newsroom):
    page = new_context(**PHONE).new_page()
    log_in(page, live_server.url, "managing.editor@northern-chronicle.example.com")
    page.goto(live_server.url + "/editors")
    measured = page.evaluate(MEASURE, PHONE["viewport"]["width"])
    assert measured["scrollWidth"] <= PHONE["viewport"]["width"], measured
    assert page.evaluate(SITE_CONTROLS_OUT_OF_VIEW, PHONE["viewport"]["width"]) == []

    sites = page.get_by_role("group", name="Sites of night.desk.subeditor@northern-chronicle-correspondents.example.com")
    expect(sites.get_by_label("Northern Chronicle Correspondents Quarterly")).to_be_checked()
    sites.get_by_label("Southern Evening Gazette and Advertiser").check()
    sites.locator("xpath=..").get_by_role("button", name="Save sites").click()
    expect(page.locator(".flash").first).to_contain_text(
        "now belongs to: Northern Chronicle Correspondents Quarterly, Southern Evening Gazette and Advertiser.")

    page.get_by_role("link", name="Audit").click()
    row = page.get_by_role("row").filter(has_text="Editor's sites changed")
    expect(row).to_contain_text("added: Southern Evening Gazette and Advertiser")
    expect(row).to_contain_text("managing.editor@northern-chronicle.example.com")
    measured = page.evaluate(MEASURE, PHONE["viewport"]["width"])
    assert measured["scrollWidth"] <= PHONE["viewport"]["width"], measured
