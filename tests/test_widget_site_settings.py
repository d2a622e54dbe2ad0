"""The site's language and limits reach the widget: the dialog reads
/api/v1/sites/<key>/widget-config when a reader acts (never at page load), from the
publisher's origin, and falls back to built-in defaults when the desk cannot answer."""

import json

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from conftest import ORIGIN
from copydesk.db import db
from copydesk.models import Site
from widget_pages.helpers import THANKS, open_dialog, pages, select_text, submissions  # noqa: F401

TWENTY_FIVE = "twenty-five characters!!!"
CONFIG = "**/widget-config"


def set_site(app, key, **fields):
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.key == key))
        for name, value in fields.items():
            setattr(site, name, value)
        db.session.commit()


def config_requests(page):
    seen = []
    page.on("request", lambda r: seen.append(r.url) if "/widget-config" in r.url else None)
    return seen


@pytest.mark.parametrize(("html_attrs", "script_attrs", "title"), [
    ("", "", "Сообщить об ошибке"),
    ('lang="en"', "", "Сообщить об ошибке"),
    ("", 'data-lang="en"', "Report an error"),
], ids=["site-language", "site-language-before-html-lang", "data-lang-first"])
def test_russian_site_gets_a_russian_dialog_unless_the_page_says_otherwise(
        page, pages, live_server, html_attrs, script_attrs, title):  # noqa: F811
    # The page is on another origin than the desk: the settings are read through CORS.
    set_site(live_server.app, pages.site_key, language="ru")
    page.goto(pages.article("/ru.html", "<article><p>Несколько слов для выделения.</p></article>",
                            html_attrs=html_attrs, script_attrs=script_attrs))
    select_text(page, "слов")
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name(title)
    if title == "Сообщить об ошибке":
        expect(dialog).to_have_attribute("lang", "ru")
        dialog.get_by_role("button", name="Отправить").click()
        expect(dialog.get_by_role("status")).to_have_text("Спасибо! Редакция уже в курсе.")
        assert [row.exact for row in submissions(live_server.app)] == ["слов"]


@pytest.mark.parametrize(("language", "refusal"), [
    ("en", "Please select at most 20 characters."),
    ("ru", "Пожалуйста, выделите не более 20 символов."),
])
def test_site_limit_refuses_a_long_selection_before_the_reader_types(page, pages, live_server, language, refusal):  # noqa: F811
    set_site(live_server.app, pages.site_key, max_selection=20, language=language)
    page.goto(pages.article("/limit20.html", f"<article><p>{TWENTY_FIVE}</p></article>", html_attrs=""))
    select_text(page, TWENTY_FIVE)
    dialog = open_dialog(page)
    expect(dialog).to_contain_text(refusal)
    expect(dialog.get_by_role("textbox")).to_have_count(0)
    expect(dialog.get_by_role("button")).to_have_count(1)  # Close, nothing to send


def test_selection_within_the_site_limit_is_accepted(page, pages, live_server):  # noqa: F811
    set_site(live_server.app, pages.site_key, max_selection=25)
    page.goto(pages.article("/limit25.html", f"<article><p>{TWENTY_FIVE}</p></article>"))
    select_text(page, TWENTY_FIVE)
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    assert [row.exact for row in submissions(live_server.app)] == [TWENTY_FIVE]


def test_settings_are_asked_for_once_when_the_reader_acts_never_at_page_load(page, pages):  # noqa: F811
    asked = config_requests(page)
    page.goto(pages.article("/once.html", "<article><p>Some words to select.</p></article>"))
    page.wait_for_load_state("networkidle")
    assert asked == []
    select_text(page, "words")
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert asked == [f"{pages.desk}/api/v1/sites/{pages.site_key}/widget-config"]
    open_dialog(page)
    assert len(asked) == 1


def test_dialog_takes_its_limits_from_the_desks_answer(page, pages, live_server):  # noqa: F811
    page.route(CONFIG, lambda route: route.fulfill(
        json={"lang": "en", "max_selection": 100, "max_context": 10, "max_comment": 50},
        headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(pages.article("/limits.html", "<article><p>Words before the typo and words after it.</p></article>"))
    select_text(page, "typo")
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Comment")).to_have_attribute("maxlength", "50")
    expect(dialog.get_by_label("Suggested correction")).to_have_attribute("maxlength", "50")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    [row] = submissions(live_server.app)
    # Cut to 10 characters at word boundaries.
    assert (row.prefix, row.exact, row.suffix) == ("the ", "typo", " and words")


@pytest.mark.parametrize("failure", ["unreachable", "server-error", "not-json"])
def test_without_the_desks_answer_the_dialog_uses_its_defaults(page, pages, live_server, failure):  # noqa: F811
    set_site(live_server.app, pages.site_key, language="ru", max_selection=5)
    if failure == "unreachable":
        page.route(CONFIG, lambda route: route.abort())
    else:
        page.route(CONFIG, lambda route: route.fulfill(
            status=500 if failure == "server-error" else 200, body="<html>oops</html>",
            headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(pages.article("/defaults.html", "<article><p>Some words to select.</p></article>", html_attrs=""))
    select_text(page, "words to select")
    dialog = open_dialog(page)
    # English and the built-in 300 characters, not the site's Russian and 5; the desk still applies its 5.
    expect(dialog).to_have_accessible_name("Report an error")
    expect(dialog.get_by_label("Comment")).to_have_attribute("maxlength", "1000")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_contain_text("The report was not accepted:")


@pytest.mark.parametrize(("site_limit", "script_limit"), [(300, 20), (20, 300)],
                         ids=["script-lower", "site-lower"])
def test_the_smaller_of_data_max_selection_and_the_sites_limit_applies(
        page, pages, live_server, site_limit, script_limit):  # noqa: F811
    # A larger data-max-selection would let the reader type a report the desk then refuses.
    set_site(live_server.app, pages.site_key, max_selection=site_limit)
    page.goto(pages.article(f"/limit-{site_limit}-{script_limit}.html", f"<article><p>{TWENTY_FIVE}</p></article>",
                            script_attrs=f'data-max-selection="{script_limit}"'))
    select_text(page, TWENTY_FIVE)
    dialog = open_dialog(page)
    expect(dialog).to_contain_text("Please select at most 20 characters.")
    expect(dialog.get_by_role("textbox")).to_have_count(0)


OTHER_ORIGIN = "https://other.example.com"


def test_settings_are_readable_only_from_the_sites_own_origins(client, make_site):
    key = make_site(origins=[ORIGIN], language="ru", max_selection=120)
    make_site(name="Other", origins=[OTHER_ORIGIN])

    own = client.get(f"/api/v1/sites/{key}/widget-config", headers={"Origin": ORIGIN})
    assert own.status_code == 200
    assert own.json == {"lang": "ru", "max_selection": 120, "max_context": 64, "max_comment": 1000,
                        "followup": False, "kinds": True}
    assert own.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in own.vary

    # Allowed for another site is not allowed for this one.
    other = client.get(f"/api/v1/sites/{key}/widget-config", headers={"Origin": OTHER_ORIGIN})
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers
    assert json.loads(other.data)["codes"] == {"_request": ["origin_refused"]}

    direct = client.get(f"/api/v1/sites/{key}/widget-config")
    assert direct.status_code == 200
    assert "Access-Control-Allow-Origin" not in direct.headers


def test_sending_a_kept_report_at_page_load_does_not_ask_for_settings(page, pages, live_server):  # noqa: F811
    url = pages.article("/kept.html", "<article><p>Some words to select.</p></article>")
    page.goto(url)
    kept = {"e": live_server.url, "t": 9e12, "b": {"site": pages.site_key, "idempotency_key": "kept-report-1",
                                                  "url": url, "exact": "words"}}
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", ["copydesk:outbox", json.dumps({"kept-report-1": kept})])
    asked = config_requests(page)
    page.reload()
    page.wait_for_function("localStorage.getItem('copydesk:outbox') === null")
    assert [row.exact for row in submissions(live_server.app)] == ["words"]
    assert asked == []
