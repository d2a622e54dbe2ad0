"""The footer hint ([data-copydesk-hint]) tells readers the feature exists, in
their language and for their way of triggering it."""

import pytest
from playwright.sync_api import expect
from widget_pages.helpers import MAC_PLATFORM, MAC_UA

PHONE = {"has_touch": True, "is_mobile": True, "viewport": {"width": 390, "height": 844}}


@pytest.mark.parametrize(("device", "lang", "hint"), [
    ("desktop", "en", "If you find an error, please select a piece of text and press Ctrl + Enter"),
    ("desktop", "ru", "Если вы нашли ошибку, выделите фрагмент текста и нажмите Ctrl + Enter"),
    ("mac", "en", "If you find an error, please select a piece of text and press Cmd + Enter"),
    ("phone", "en", "If you find an error, please select a piece of text and tap “Report an error”"),
    ("phone", "ru", "Если вы нашли ошибку, выделите фрагмент текста и нажмите «Сообщить об ошибке»"),
])
def test_footer_hint(new_context, demo, device, lang, hint):
    if device == "mac":
        context = new_context(user_agent=MAC_UA)
        context.add_init_script(MAC_PLATFORM)
    else:
        context = new_context(**(PHONE if device == "phone" else {}))
    page = context.new_page()
    page.goto(demo["article_url"] + ("?lang=ru" if lang == "ru" else ""))
    expect(page.locator("[data-copydesk-hint]")).to_have_text(hint)
