"""Every built-in language end to end (hint, dialog, kinds, thanks, direction), the order in which
the language is chosen, and the desk's error codes shown in the reader's words."""

import json

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from copydesk.db import db
from copydesk.models import Report
from copydesk.schemas import ERROR_CODES
from widget_pages.helpers import (KINDS, LANGUAGES, MAC_PLATFORM, MAC_UA, open_dialog, pages,  # noqa: F401
                                  select_text, texts, widget_texts)

CONFIG = "**/widget-config"


def config(lang="en", **overrides):
    """A widget-config answer, as the desk gives it."""
    return {"lang": lang, "max_selection": 300, "max_context": 64, "max_comment": 1000, "followup": False,
            "kinds": True, **overrides}


def kind_counts(app):
    with app.app_context():
        return [report.kind_counts for report in db.session.scalars(sa.select(Report).order_by(Report.id))]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_from_hint_to_thanks(page, pages, live_server, lang):  # noqa: F811
    words = texts(lang)
    rtl = lang in ("ar", "he")
    page.goto(pages.article(f"/{lang}.html", "<article><p>Some words to select.</p><p data-copydesk-hint></p></article>",
                            html_attrs=f'lang="{lang}"' + (' dir="rtl"' if rtl else "")))
    expect(page.locator("[data-copydesk-hint]")).to_have_text(words["hint"])
    select_text(page, "words")
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name(words["title"])
    expect(dialog).to_have_attribute("lang", lang)
    expect(dialog).to_have_attribute("dir", "rtl" if rtl else "ltr")
    expect(dialog.get_by_label(words["comment"])).to_be_focused()
    kinds = dialog.get_by_role("group", name=words["kind"])
    expect(kinds.get_by_role("radio")).to_have_count(4)
    for kind in KINDS:
        expect(kinds.get_by_role("radio", name=words[kind])).not_to_be_checked()
    kinds.get_by_text(words["fact"]).click()  # the whole label is the target
    expect(kinds.get_by_role("radio", name=words["fact"])).to_be_checked()
    dialog.get_by_role("button", name=words["send"]).click()
    expect(dialog.get_by_role("status")).to_have_text(words["thanks"])
    dialog.get_by_role("button", name=words["close"]).click()
    assert kind_counts(live_server.app) == [{"fact": 1}]


def test_kinds_are_large_targets_chosen_with_the_keyboard(page, pages, live_server):  # noqa: F811
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(pages.article("/kinds.html", "<article><p>Some words to select.</p></article>"))
    select_text(page, "words")
    dialog = open_dialog(page)
    labels = dialog.locator("fieldset label")
    for index in range(4):
        box = labels.nth(index).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 100  # two to a row on a phone
    page.keyboard.press("Tab")  # comment -> suggestion
    page.keyboard.press("Tab")  # -> the kinds: one stop for the group
    expect(dialog.get_by_role("radio", name="Typo")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # arrows move the choice, as in any radio group
    expect(dialog.get_by_role("radio", name="Wrong fact")).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_role("radio", name="Broken link or image")).to_be_checked()
    page.keyboard.press("Control+Enter")
    expect(dialog.get_by_role("status")).to_have_text(texts("en")["thanks"])
    assert kind_counts(live_server.app) == [{"link": 1}]


def test_no_kind_chosen_sends_none(page, pages, live_server):  # noqa: F811
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "POST" else None)
    page.goto(pages.article("/nokind.html", "<article><p>Some words to select.</p></article>"))
    select_text(page, "words")
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(texts("en")["thanks"])
    assert "kind" not in sent[0]
    assert kind_counts(live_server.app) == [{}]


def test_a_site_without_kinds_gets_no_choice(page, pages, live_server):  # noqa: F811
    page.route(CONFIG, lambda route: route.fulfill(json=config(kinds=False),
                                                   headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(pages.article("/nokinds.html", "<article><p>Some words to select.</p></article>"))
    select_text(page, "words")
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Comment")).to_be_focused()
    expect(dialog.get_by_role("group")).to_have_count(0)
    expect(dialog.get_by_role("radio")).to_have_count(0)


@pytest.mark.parametrize(("html_lang", "data_lang", "site_lang", "hint", "dialog"), [
    ("de", "", "fr", "de", "fr"),  # the site's language before <html lang>; the hint cannot wait for it
    ("de", "it", "fr", "it", "it"),  # data-lang first, for both
    ("de", "", None, "de", "de"),  # a site without a language: <html lang>
    ("", "", None, "en", "en"),  # nothing says: English
    ("pl-PL", "", "xx", "pl", "en"),  # the first that is set decides, even without texts of its own
], ids=["site-before-html", "data-lang", "site-unset", "nothing", "site-unknown"])
def test_language_order(page, pages, html_lang, data_lang, site_lang, hint, dialog):  # noqa: F811
    page.route(CONFIG, lambda route: route.fulfill(json=config(site_lang),
                                                   headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(pages.article("/order.html", "<article><p>Some words to select.</p><p data-copydesk-hint></p></article>",
                            html_attrs=f'lang="{html_lang}"' if html_lang else "",
                            script_attrs=f'data-lang="{data_lang}"' if data_lang else ""))
    expect(page.locator("[data-copydesk-hint]")).to_have_text(texts(hint)["hint"])
    select_text(page, "words")
    expect(open_dialog(page)).to_have_accessible_name(texts(dialog)["title"])


@pytest.mark.parametrize("lang", ["de", "kk", "he"])
def test_the_desks_error_codes_in_the_readers_words(page, pages, lang):  # noqa: F811
    words = texts(lang)
    answer = {"errors": {"comment": ["Longer than maximum length 1000."], "email": ["Not an email address."],
                         "kind": ["Not one of the kinds."], "_request": ["A brand new refusal."]},
              "codes": {"comment": ["too_long"], "email": ["not_email"], "kind": ["not_a_kind"],
                        "_request": ["brand_new"]}}
    page.route("**/api/v1/reports", lambda route: route.fulfill(
        status=422, json=answer, headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(pages.article("/codes.html", "<article><p>Some words to select.</p></article>",
                            html_attrs=f'lang="{lang}"'))
    select_text(page, "words")
    dialog = open_dialog(page)
    dialog.get_by_role("button", name=words["send"]).click()
    # Each known code in the reader's language (once each); an unknown one in the desk's own words.
    expect(dialog.get_by_role("status")).to_have_text(
        f"{words['rejected']} {words['long']} {words['address']} {words['invalid']} A brand new refusal.")
    expect(dialog.get_by_label(words["comment"])).to_have_attribute("aria-invalid", "true")


@pytest.mark.parametrize("lang", ["uk", "ar"])
def test_rate_limit_in_the_readers_words(page, pages, lang):  # noqa: F811
    page.route("**/api/v1/reports", lambda route: route.fulfill(
        status=429, json={"errors": {"_request": ["Too many."]}, "codes": {"_request": ["rate_limited_site"]}},
        headers={"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After",
                 "Retry-After": "150"}))
    page.goto(pages.article("/rate.html", "<article><p>Some words to select.</p></article>",
                            html_attrs=f'lang="{lang}"'))
    select_text(page, "words")
    dialog = open_dialog(page)
    dialog.get_by_role("button", name=texts(lang)["send"]).click()
    expect(dialog.get_by_role("status")).to_have_text(texts(lang)["rate"].replace("{n}", "3"))


def test_every_code_the_desk_gives_has_words_in_the_widget():
    # A new code on the desk needs its words here (widget/src/texts.mjs CODES) too.
    codes = widget_texts()["CODES"]
    assert set(codes) == set(ERROR_CODES)
    assert all(name in texts("en") for name in codes.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_touch_readers_get_their_hint_and_button_in_their_language(new_context, pages, live_server, lang):  # noqa: F811
    words = texts(lang)
    page = new_context(has_touch=True, is_mobile=True, viewport={"width": 390, "height": 844}).new_page()
    page.goto(pages.article(f"/touch-{lang}.html", "<article><h2>Heading</h2><p>Some words to select.</p>"
                            "<p data-copydesk-hint></p></article>", html_attrs=f'lang="{lang}"'))
    expect(page.locator("[data-copydesk-hint]")).to_have_text(words["hintTap"])
    page.locator("article h2").tap()
    select_text(page, "words")
    button = page.locator("copydesk-button").get_by_role("button", name=words["report"])
    button.tap()
    dialog = page.get_by_role("dialog", name=words["title"])
    dialog.get_by_text(words["typo"]).tap()
    dialog.get_by_role("button", name=words["send"]).tap()
    expect(dialog.get_by_role("status")).to_have_text(words["thanks"])
    assert kind_counts(live_server.app) == [{"typo": 1}]


def test_without_its_language_file_the_dialog_speaks_english(new_context, pages):  # noqa: F811
    context = new_context()
    context.route("**/copydesk-dialog-de.*.json", lambda route: route.abort())
    page = context.new_page()
    page.goto(pages.article("/de-missing.html", "<article><p>Einige Wörter zum Markieren.</p></article>",
                            html_attrs='lang="de"'))
    select_text(page, "Wörter")
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name(texts("en")["title"])
    expect(dialog).to_have_attribute("lang", "en")


def test_mac_readers_read_cmd_in_every_language(new_context, pages):  # noqa: F811
    context = new_context(user_agent=MAC_UA)
    context.add_init_script(MAC_PLATFORM)
    page = context.new_page()
    page.goto(pages.article("/mac-de.html", "<article><p>Einige Wörter.</p><p data-copydesk-hint></p></article>",
                            html_attrs='lang="de"'))
    expect(page.locator("[data-copydesk-hint]")).to_have_text(texts("de")["hint"].replace("Strg", "Cmd"))
    assert "Cmd + Enter" in texts("de")["hint"].replace("Strg", "Cmd")
    page.keyboard.press("Meta+Enter")  # nothing selected: how to report, in German, with Cmd
    expect(page.get_by_role("dialog")).to_contain_text(texts("de")["howto"].replace("Strg", "Cmd"))
