"""The dialog's "tell me when it's fixed" field (Chromium): shown only when the site offers
it, labelled in the reader's language, and the address reaches the desk, also when the
report waited in the outbox."""

import json

import sqlalchemy as sa
from playwright.sync_api import expect

from copydesk.models import Submission
from test_widget_site_settings import set_site
from widget_pages.helpers import THANKS, open_dialog, pages, select_text  # noqa: F401

LABEL = "Tell me when it's fixed (optional)"
ADDRESS = "jane.reader@example.org"
ARTICLE = "<article><p>Each keeper stood a four-hour watch over the principle lamp.</p></article>"
SAVED = "We could not send it right now; it is saved and will be sent automatically."


def stored(app):
    with app.app_context():
        from copydesk.db import db
        return db.session.execute(sa.select(Submission.comment, Submission.reader_email)
                                  .order_by(Submission.id)).all()


def test_no_email_field_unless_the_site_offers_followup(page, pages, live_server):  # noqa: F811
    page.goto(pages.article("/plain.html", ARTICLE))
    select_text(page, "principle")
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Comment")).to_be_visible()
    expect(dialog.locator("input[type=email]")).to_have_count(0)
    expect(dialog.get_by_role("textbox")).to_have_count(2)  # comment and suggestion
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    assert stored(live_server.app) == [("", None)]


def test_followup_site_offers_the_email_field_and_the_address_is_stored(page, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, reader_followup=True)
    page.goto(pages.article("/followup.html", ARTICLE))
    select_text(page, "principle")
    dialog = open_dialog(page)
    email = dialog.get_by_label(LABEL)
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_attribute("autocomplete", "email")
    # Reachable by keyboard: comment -> suggestion -> email.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(email).to_be_focused()
    email.fill(ADDRESS)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    assert stored(live_server.app) == [("", ADDRESS)]


def test_an_empty_email_field_sends_no_address(page, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, reader_followup=True)
    page.goto(pages.article("/followup-empty.html", ARTICLE))
    select_text(page, "principle")
    dialog = open_dialog(page)
    expect(dialog.get_by_label(LABEL)).to_be_visible()
    dialog.get_by_label("Comment").fill("no address")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    assert stored(live_server.app) == [("no address", None)]


def test_the_field_is_labelled_in_russian_on_a_russian_page(page, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, reader_followup=True)
    page.goto(pages.article("/followup-ru.html", "<article><p>Смотритель маяка нёс вахту.</p></article>",
                            html_attrs='lang="ru"'))
    select_text(page, "маяка")
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Сообщить об исправлении (необязательно)")).to_have_attribute("type", "email")


def test_a_refused_address_is_marked_on_its_field(page, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, reader_followup=True)
    page.goto(pages.article("/followup-bad.html", ARTICLE))
    select_text(page, "principle")
    dialog = open_dialog(page)
    email = dialog.get_by_label(LABEL)
    email.fill("jane@example")  # the browser takes it; the desk wants a domain with a dot
    dialog.get_by_role("button", name="Send").click()
    # The desk's code (not_email), in the reader's words.
    expect(dialog.get_by_role("status")).to_have_text("The report was not accepted: Please check the email address.")
    expect(email).to_have_attribute("aria-invalid", "true")
    assert stored(live_server.app) == []


def test_a_report_kept_in_the_outbox_carries_the_address(new_context, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, reader_followup=True)
    context = new_context()
    page = context.new_page()
    context.route("**/api/v1/reports", lambda route: route.abort())
    page.goto(pages.article("/followup-offline.html", ARTICLE))
    select_text(page, "principle")
    dialog = open_dialog(page)
    dialog.get_by_label(LABEL).fill(ADDRESS)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(SAVED)
    [kept] = json.loads(page.evaluate("localStorage.getItem('copydesk:outbox')")).values()
    assert kept["b"]["email"] == ADDRESS
    assert stored(live_server.app) == []

    context.unroute("**/api/v1/reports")
    page.reload()
    page.wait_for_function("localStorage.getItem('copydesk:outbox') === null")
    assert stored(live_server.app) == [("", ADDRESS)]
