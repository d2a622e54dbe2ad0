"""Sending: nothing is lost when the desk is unreachable (kept in localStorage,
retried until acknowledged, landing exactly once), and refusals in plain words."""

import json
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from copydesk.db import db
from copydesk.models import Report
from test_widget_flow import DEMO_END, DEMO_START
from widget_pages.helpers import (KINDS, LANGUAGES, THANKS, open_dialog, pages, select_text,  # noqa: F401
                                  submissions, texts)

SAVED = "We could not send it right now; it is saved and will be sent automatically."
OUTBOX = "copydesk:outbox"


def outbox(page):
    return json.loads(page.evaluate(f"localStorage.getItem('{OUTBOX}')") or "{}")


def kind_counts(app):
    with app.app_context():
        return [report.kind_counts for report in db.session.scalars(sa.select(Report).order_by(Report.id))]


def report_and_send(page, url):
    page.goto(url)
    select_text(page, DEMO_START, DEMO_END)
    dialog = open_dialog(page)
    dialog.get_by_label("Comment").fill("kept while offline")
    dialog.get_by_role("button", name="Send").click()
    return dialog


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unreachable_desk_keeps_the_report_and_sends_it_once_on_the_next_visit(new_context, pages, live_server,  # noqa: F811
                                                                               lang):
    words = texts(lang)
    kind = KINDS[LANGUAGES.index(lang) % len(KINDS)]
    context = new_context()
    page = context.new_page()
    context.route("**/api/v1/reports", lambda route: route.abort())
    url = pages.article(f"/kept-{lang}.html", "<article><p>The keepers logged the weather into a log that was "
                        "never allowed.</p></article>", html_attrs=f'lang="{lang}"')
    page.goto(url)
    select_text(page, "the weather", "allowed")
    dialog = open_dialog(page)
    dialog.get_by_label(words["comment"]).fill("kept while offline")
    dialog.get_by_text(words[kind]).click()
    dialog.get_by_role("button", name=words["send"]).click()
    expect(dialog.get_by_role("status")).to_have_text(words["saved"])
    [kept] = outbox(page).values()
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", kept["b"]["idempotency_key"])
    assert (kept["b"]["comment"], kept["b"]["kind"]) == ("kept while offline", kind)
    assert submissions(live_server.app) == []

    context.unroute("**/api/v1/reports")
    sends = []
    page.on("request", lambda r: sends.append(r) if r.url.endswith("/api/v1/reports") and r.method == "POST" else None)
    page.reload()
    page.wait_for_function(f"localStorage.getItem('{OUTBOX}') === null")
    [row] = submissions(live_server.app)
    assert (row.comment, row.lang) == ("kept while offline", lang)
    assert row.idempotency_key == kept["b"]["idempotency_key"]
    assert row.exact == "the weather into a log that was never allowed"
    assert kind_counts(live_server.app) == [{kind: 1}]

    page.reload()
    page.wait_for_load_state("networkidle")
    assert len(sends) == 1
    assert len(submissions(live_server.app)) == 1


def test_coming_back_online_sends_the_kept_report(new_context, demo, live_server):
    context = new_context()
    page = context.new_page()
    page.goto(demo["article_url"])
    select_text(page, DEMO_START, DEMO_END)
    dialog = open_dialog(page)  # the dialog code is loaded while online
    context.set_offline(True)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(SAVED)
    context.set_offline(False)
    page.wait_for_function(f"localStorage.getItem('{OUTBOX}') === null")
    assert len(submissions(live_server.app)) == 1


def test_server_error_is_kept_and_retried(new_context, demo, live_server):
    context = new_context()
    page = context.new_page()
    context.route("**/api/v1/reports", lambda route: route.fulfill(
        status=503, body="{}", headers={"Access-Control-Allow-Origin": "*"}))
    dialog = report_and_send(page, demo["article_url"])
    expect(dialog.get_by_role("status")).to_have_text(SAVED)
    context.unroute("**/api/v1/reports")
    page.reload()
    page.wait_for_function(f"localStorage.getItem('{OUTBOX}') === null")
    assert len(submissions(live_server.app) ) == 1


def test_kept_report_the_server_refuses_for_good_is_dropped(page, demo, live_server):
    page.goto(demo["article_url"])
    bad = {"e": live_server.url, "t": 9e12, "b": {"site": demo["site_key"], "idempotency_key": "refused-for-good",
                                                  "url": demo["article_url"], "exact": ""}}
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [OUTBOX, json.dumps({"refused-for-good": bad})])
    page.reload()
    page.wait_for_function(f"localStorage.getItem('{OUTBOX}') === null")
    assert submissions(live_server.app) == []


@pytest.fixture
def one_report_per_minute(app_config):
    app_config["RATELIMIT_REPORTS_PER_IP"] = "1 per minute"


def test_rate_limit_is_explained_in_plain_words_and_not_kept(one_report_per_minute, page, demo, live_server):
    dialog = report_and_send(page, demo["article_url"])
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    dialog = report_and_send(page, demo["article_url"])
    expect(dialog.get_by_role("status")).to_have_text(
        re.compile(r"^Too many reports from your network\. Please try again in 1 minutes\.$"))
    expect(dialog.get_by_role("button", name="Send")).to_be_visible()
    assert outbox(page) == {}
    assert len(submissions(live_server.app)) == 1


def test_validation_error_is_explained_in_the_readers_words_on_the_field(page, demo, live_server):
    page.goto(demo["article_url"])
    select_text(page, DEMO_START, DEMO_END)
    dialog = open_dialog(page)
    comment = dialog.get_by_label("Comment")
    # Past the field's maxlength, as a script or an old browser could send it.
    comment.evaluate("e => { e.removeAttribute('maxlength'); e.value = 'x'.repeat(1001) }")
    dialog.get_by_role("button", name="Send").click()
    status = dialog.get_by_role("status")
    # The desk's code (too_long) in the reader's language (tests/test_widget_languages.py: others).
    expect(status).to_have_text("The report was not accepted: Please shorten this text.")
    expect(comment).to_have_attribute("aria-invalid", "true")
    assert outbox(page) == {}
    assert submissions(live_server.app) == []
