"""The list's bulk form in Chromium: Enter in "duplicate of #" closes the ticked reports as
duplicates of that number (never presses "Confirm", the form's other first button)."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from conftest import rows
from copydesk.models import Report
from test_e2e import live_desk, log_in


@pytest.fixture
def desk(live_server, make_editor, site_key):
    """An editor and three new reports (#1 oldest … #3 newest)."""
    return live_desk(live_server, make_editor, site_key, 3, "bulk")


def closed_as(app):
    return dict((rid, (status, resolution, duplicate_of)) for rid, status, resolution, duplicate_of in rows(
        app, sa.select(Report.id, Report.status, Report.resolution, Report.duplicate_of_id)))


def test_enter_in_the_bulk_duplicate_field_closes_the_ticked_as_duplicates(page, desk):
    app, (original, copy1, copy2) = desk["app"], desk["ids"]
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    page.get_by_label(f"Select report #{copy1}").check()
    page.get_by_label(f"Select report #{copy2}").check()
    field = page.locator("#bulk input[name=duplicate_of]")
    field.click()
    page.keyboard.type(f"#{original}")
    page.keyboard.press("Enter")
    expect(page.locator(".flash").first).to_have_text("Done for 2 reports.")
    assert closed_as(app) == {original: ("new", None, None), copy1: ("closed", "duplicate", original),
                              copy2: ("closed", "duplicate", original)}


def test_without_javascript_enter_in_the_duplicate_field_never_confirms(new_context, desk):
    app, (original, copy1) = desk["app"], desk["ids"][:2]
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, desk["url"], "editor@example.com", "correct horse battery")
    page.get_by_label(f"Select report #{copy1}").check()
    page.locator("#bulk input[name=duplicate_of]").fill(str(original))
    page.locator("#bulk input[name=duplicate_of]").press("Enter")  # "Close as" still says "fixed"
    expect(page.locator("body")).to_contain_text("A number in “duplicate of #” closes the reports as its duplicates")
    assert {status for status, _r, _d in closed_as(app).values()} == {"new"}
    page.go_back()
    page.get_by_label(f"Select report #{copy1}").check()
    page.locator("#bulk select[name=resolution]").select_option("duplicate")
    page.locator("#bulk input[name=duplicate_of]").fill(str(original))
    page.locator("#bulk input[name=duplicate_of]").press("Enter")
    expect(page.locator(".flash").first).to_have_text("Done for 1 report.")
    assert closed_as(app)[copy1] == ("closed", "duplicate", original)
