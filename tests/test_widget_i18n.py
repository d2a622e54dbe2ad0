"""Fourteen languages built in, chosen from data-lang, the site's language or <html lang>
(tests/test_widget_languages.py goes through each); every string overridable with data-text-*;
Arabic, Hebrew and right-to-left pages get a mirrored dialog."""

import pytest
from playwright.sync_api import expect
from test_widget_flow import DEMO_END, DEMO_START
from widget_pages.helpers import open_dialog, pages, select_text  # noqa: F401

RU_HINT = "Если вы нашли ошибку, выделите фрагмент текста и нажмите Ctrl + Enter"
RU_THANKS = "Спасибо! Редакция уже в курсе."


def test_russian_page_gets_russian_hint_dialog_and_thanks(page, demo, live_server):
    page.goto(demo["article_url"] + "?lang=ru")
    expect(page.locator("[data-copydesk-hint]")).to_have_text(RU_HINT)
    select_text(page, DEMO_START, DEMO_END)
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name("Сообщить об ошибке")
    dialog.get_by_label("Комментарий").fill("Опечатка")
    dialog.get_by_role("button", name="Отправить").click()
    expect(dialog.get_by_role("status")).to_have_text(RU_THANKS)


@pytest.mark.parametrize(("html_attrs", "script_attrs", "title"), [
    ('lang="ru-RU"', "", "Сообщить об ошибке"),
    ('lang="en"', 'data-lang="ru"', "Сообщить об ошибке"),
    ('lang="ru"', 'data-lang="en"', "Report an error"),
    ('lang="pt-BR"', "", "Informar um erro"),
    ('lang="fa"', "", "Report an error"),
    ("", "", "Report an error"),
], ids=["html-lang-prefix", "data-lang-wins", "data-lang-en", "region", "no-texts-for-the-language", "no-lang"])
def test_language_choice(page, pages, html_attrs, script_attrs, title):  # noqa: F811
    page.goto(pages.article("/lang.html", "<p>Some words to select.</p>", html_attrs=html_attrs,
                            script_attrs=script_attrs))
    select_text(page, "words")
    expect(open_dialog(page)).to_have_accessible_name(title)


def test_every_string_can_be_overridden(page, pages):  # noqa: F811
    page.goto(pages.article(
        "/texts.html", '<p>Some words to select.</p><p data-copydesk-hint></p>',
        script_attrs='data-text-title="Spotted a typo?" data-text-send="Tell the desk" '
                     'data-text-thanks="Cheers, fixed soon." data-text-comment="Your note" '
                     'data-text-hint="Select, then Ctrl + Enter."'))
    expect(page.locator("[data-copydesk-hint]")).to_have_text("Select, then Ctrl + Enter.")
    select_text(page, "words")
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name("Spotted a typo?")
    expect(dialog.get_by_label("Your note")).to_be_focused()
    dialog.get_by_role("button", name="Tell the desk").click()
    expect(dialog.get_by_role("status")).to_have_text("Cheers, fixed soon.")


@pytest.mark.parametrize(("where", "lang", "send", "cancel"), [
    ("html", "ar", "إرسال", "إلغاء"),
    ("root", "he", "שליחה", "ביטול"),
    ("html", "fa", "Send", "Cancel"),  # Persian: no built-in texts, English words on a right-to-left page
    ("root", "fa", "Send", "Cancel"),
])
def test_rtl_page_gets_a_mirrored_dialog(page, pages, where, lang, send, cancel):  # noqa: F811
    body = '<article dir="rtl"><p>كلمات للاختيار هنا</p></article>' if where == "root" else \
        "<article><p>كلمات للاختيار هنا</p></article>"
    page.goto(pages.article("/rtl.html", body, html_attrs=f'lang="{lang}"' + (' dir="rtl"' if where == "html" else "")))
    select_text(page, "للاختيار")
    dialog = open_dialog(page)
    expect(dialog).to_have_attribute("dir", "rtl")
    send, cancel = (dialog.get_by_role("button", name=n).bounding_box() for n in (send, cancel))
    assert send["x"] > cancel["x"]  # the row of buttons is mirrored too


def test_arabic_dialog_is_right_to_left_on_a_left_to_right_page(page, pages):  # noqa: F811
    page.goto(pages.article("/ar-ltr.html", "<article><p>Some words to select.</p></article>",
                            script_attrs='data-lang="ar"'))
    select_text(page, "words")
    dialog = open_dialog(page)
    expect(dialog).to_have_attribute("dir", "rtl")
    expect(dialog).to_have_attribute("lang", "ar")


def test_ltr_page_dialog_is_ltr(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    select_text(page, "First paragraph")
    dialog = open_dialog(page)
    expect(dialog).to_have_attribute("dir", "ltr")
    send, cancel = (dialog.get_by_role("button", name=n).bounding_box() for n in ("Send", "Cancel"))
    assert send["x"] < cancel["x"]
