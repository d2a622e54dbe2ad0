"""A triage session by keyboard alone (Chromium): j/k move, f/n/s/c/a/u act on the current
row by fetch without a page load, x ticks, / searches, ? lists the shortcuts; keys never
fire in form fields; the report page's keys go on to the list's next report; and without
JavaScript the same forms still work."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from conftest import rows
from copydesk.models import Event, Report
from test_e2e import live_desk, log_in


@pytest.fixture
def desk(live_server, make_editor, site_key):
    """An editor and five new reports (#1 oldest … #5 newest)."""
    return live_desk(live_server, make_editor, site_key, 5, "keys")


def statuses(app):
    return dict(rows(app, sa.select(Report.id, Report.status)))


def count_loads(page):
    loads = []
    page.on("load", lambda _page: loads.append(page.url))
    return loads


def current_row(page):
    return page.locator("tr.report-row.current")


def test_a_triage_session_by_keyboard_alone(page, desk):
    app, (r1, r2, r3, r4, r5) = desk["app"], desk["ids"]
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    loads = count_loads(page)
    status = page.locator("#triage-status")

    page.keyboard.press("j")  # the first row (newest first)
    expect(current_row(page)).to_have_attribute("data-report-id", str(r5))
    expect(current_row(page)).to_have_attribute("aria-current", "true")
    page.keyboard.press("f")  # closed as fixed: it leaves the open list, the next row is current
    expect(page.locator(f'tr[data-report-id="{r5}"]')).to_have_count(0)
    expect(status).to_have_text("Closed as fixed.")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r4))
    page.keyboard.press("c")  # confirmed: still open, so the row stays, updated, and focus moves on
    expect(page.locator(f'tr[data-report-id="{r4}"]')).to_have_attribute("data-status", "confirmed")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r3))
    page.keyboard.press("k")
    page.keyboard.press("a")  # assign to me
    expect(page.locator(f'tr[data-report-id="{r4}"] .assignee')).to_have_text("Assigned to Eddie Tor")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r3))  # focus moved on
    page.keyboard.press("ArrowUp")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r4))
    page.keyboard.press("ArrowDown")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r3))
    page.keyboard.press("n")
    expect(status).to_have_text("Closed as not an error.")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r2))
    page.keyboard.press("u")  # duplicate of: a number, Enter
    dup = page.locator(f'tr[data-report-id="{r2}"] input[name="duplicate_of"]')
    expect(dup).to_be_focused()
    page.keyboard.type(str(r1))
    page.keyboard.press("Enter")
    expect(status).to_have_text(f"Closed as a duplicate of #{r1}.")
    expect(current_row(page)).to_have_attribute("data-report-id", str(r1))
    page.keyboard.press("s")
    expect(status).to_have_text("Closed as spam.")

    assert statuses(app) == {r1: "closed", r2: "closed", r3: "closed", r4: "confirmed", r5: "closed"}
    assert rows(app, sa.select(Report.resolution).order_by(Report.id)) == [
        ("spam",), ("duplicate",), ("not_an_error",), (None,), ("fixed",)]
    assert loads == []  # every action by fetch: the list never reloaded
    assert rows(app, sa.select(sa.func.count()).select_from(Event).where(Event.kind == "assignee")) == [(1,)]


def test_a_refused_action_is_announced_and_the_row_stays(page, desk):
    app, ids = desk["app"], desk["ids"]
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    with app.app_context():  # another editor closes the newest one after the list was shown
        from copydesk.db import db
        db.session.get(Report, ids[-1]).status = "confirmed"
        db.session.commit()
    page.keyboard.press("j")
    page.keyboard.press("f")
    expect(page.locator("#triage-status")).to_contain_text("Someone changed this report")
    expect(page.locator(f'tr[data-report-id="{ids[-1]}"]')).to_have_count(1)
    assert statuses(app)[ids[-1]] == "confirmed"


def test_keys_never_fire_in_form_fields_and_slash_x_and_question_mark(page, desk):
    app = desk["app"]
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    page.keyboard.press("/")
    search = page.locator("input[name=q]")
    expect(search).to_be_focused()
    page.keyboard.type("jfk fix")  # letters typed into the search are text, not shortcuts
    expect(search).to_have_value("jfk fix")
    page.locator("h1").click()  # out of the field
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(current_row(page).locator("input[type=checkbox]")).to_be_checked()
    page.keyboard.press("x")
    expect(current_row(page).locator("input[type=checkbox]")).not_to_be_checked()
    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("close as fixed")
    page.keyboard.press("f")  # the dialog is open: no action
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("Alt+f")  # with a modifier: the browser's, not ours
    page.wait_for_timeout(200)
    assert set(statuses(app).values()) == {"new"}


def test_on_a_report_page_the_keys_act_and_go_on_to_the_lists_next_report(page, desk):
    app, (r1, r2, r3, r4, r5) = desk["app"], desk["ids"]
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    page.keyboard.press("j")
    page.keyboard.press("Enter")  # opens the current row's report, with its list
    expect(page).to_have_url(re.compile(rf"/reports/{r5}\?list="))
    page.keyboard.press("f")  # a plain form post: closed, and on to the next report of the list
    expect(page).to_have_url(re.compile(rf"/reports/{r4}\?list="))
    expect(page.locator(".flash")).to_have_text("Closed as fixed.")
    page.keyboard.press("j")  # on without acting
    expect(page).to_have_url(re.compile(rf"/reports/{r3}\?list="))
    page.keyboard.press("u")
    page.keyboard.press("Escape")  # gave up on "duplicate of": nothing sent
    expect(page.locator("input[name=duplicate_of]")).not_to_be_focused()
    page.keyboard.press("c")
    expect(page).to_have_url(re.compile(rf"/reports/{r2}\?list="))
    assert statuses(app) == {r1: "new", r2: "new", r3: "confirmed", r4: "new", r5: "closed"}


def test_without_javascript_the_row_forms_and_bulk_still_work(new_context, desk):
    app, ids = desk["app"], desk["ids"]
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    page.locator(f'tr[data-report-id="{ids[0]}"]').get_by_role("button", name="Fixed", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Closed as fixed.")
    expect(page).to_have_url(re.compile(r"/reports\?status=open$|/reports$"))
    page.get_by_label(f"Select report #{ids[1]}").check()
    page.get_by_label(f"Select report #{ids[2]}").check()
    page.locator("#bulk").get_by_role("button", name="Assign to me").click()
    expect(page.locator(".flash").first).to_have_text("Done for 2 reports.")
    assert rows(app, sa.select(Report.id).where(Report.assignee_id.is_not(None)).order_by(Report.id)) == [
        (ids[1],), (ids[2],)]
    assert statuses(app)[ids[0]] == "closed"
