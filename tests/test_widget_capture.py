"""What the widget reads from the page: the selection in its context, across
element boundaries, with whitespace normalized; and what it refuses to read."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from copydesk.db import db
from copydesk.models import Report
from widget_pages.helpers import (KINDS, LANGUAGES, THANKS, open_dialog, pages,  # noqa: F401
                                  press_left_to_the_page, select_text, submissions, texts)


def kind_counts(app):
    with app.app_context():
        return [report.kind_counts for report in db.session.scalars(sa.select(Report).order_by(Report.id))]


@pytest.fixture
def capture_page(page, pages):  # noqa: F811
    page.goto(pages.url("/capture.html"))
    return page


def send(dialog):
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_contain_text(THANKS)


@pytest.mark.parametrize(("start", "end", "exact"), [
    ("ends here.", "Second paragraph", "ends here. Second paragraph"),
    ("Alpha", "Beta", "Alpha item Beta"),
    ("Cell two", "Head three", "Cell two Head three"),
    ("Line one", "line two", "Line one line two"),
    ("Non", "hyphen", "Non breaking spaces, zerowidthjoined and softhyphen"),
], ids=["paragraphs", "list-items", "table-cells", "br", "nbsp-zero-width-soft-hyphen"])
def test_selection_across_blocks_reads_as_spaced_text(capture_page, start, end, exact):
    select_text(capture_page, start, end)
    dialog = open_dialog(capture_page)
    expect(dialog.locator("mark")).to_have_text(exact)


def test_backwards_selection_is_stored_like_a_forward_one(capture_page, live_server):
    select_text(capture_page, "paragraph ends", "starts here", backwards=True)
    assert capture_page.evaluate("getSelection().anchorNode.data.includes('Second')")
    send(open_dialog(capture_page))

    [row] = submissions(live_server.app)
    assert row.exact == "paragraph ends here. Second paragraph starts here"
    # The context is the sentence around the selection.
    assert row.prefix == "Capture fixture First "
    assert row.suffix == "."
    assert row.position == len("Capture fixture First ")


def test_context_skips_hidden_text(capture_page, live_server):
    select_text(capture_page, "should stay")
    send(open_dialog(capture_page))
    [row] = submissions(live_server.app)
    # "Hidden words" sit in display:none between the selection and " text."
    assert row.suffix == " text."
    assert "idden" not in row.prefix + row.suffix


@pytest.mark.parametrize("field", ["#field", "#area", "#editable"])
def test_selection_in_a_form_field_is_ignored(capture_page, field):
    # Ctrl+Enter often submits the page's own comment forms: it must stay theirs.
    capture_page.focus(field)
    capture_page.evaluate("""f => { const e = document.querySelector(f);
        if (e.select) e.select(); else getSelection().selectAllChildren(e); }""", field)
    assert press_left_to_the_page(capture_page, "Control+Enter")
    expect(capture_page.get_by_role("dialog")).to_have_count(0)


def test_empty_selection_shows_how_to_report(capture_page):
    capture_page.evaluate("getSelection().removeAllRanges()")
    dialog = open_dialog(capture_page)
    expect(dialog).to_contain_text("To report an error, select the text that contains it, then press Ctrl + Enter.")
    expect(dialog.get_by_role("textbox")).to_have_count(0)
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()


def test_selection_over_the_limit_is_refused_not_truncated(capture_page, live_server):
    select_text(capture_page, "Long:", "The end.")
    dialog = open_dialog(capture_page)
    expect(dialog).to_contain_text("Please select at most 300 characters.")
    expect(dialog.get_by_role("button", name="Send")).to_have_count(0)
    assert submissions(live_server.app) == []


def test_site_limit_from_data_max_selection(page, pages):  # noqa: F811
    url = pages.article("/limit.html", "<p>twenty-five characters!</p>", script_attrs='data-max-selection="20"')
    page.goto(url)
    select_text(page, "twenty-five characters!")
    expect(open_dialog(page)).to_contain_text("Please select at most 20 characters.")


# The desk takes a language tag of at most 35 characters; a longer one would cost the whole report.
LANG_35 = "en-abcdefgh-abcdefgh-abcdefgh-abcde"


@pytest.mark.parametrize(("html_lang", "sent"), [(LANG_35, LANG_35), (LANG_35 + "f", "")],
                         ids=["35-characters", "36-characters"])
def test_page_language_is_sent_only_as_a_tag_the_desk_takes(page, pages, live_server, html_lang, sent):  # noqa: F811
    page.goto(pages.article(f"/lang-{len(html_lang)}.html", "<p>Some words to select.</p>",
                            html_attrs=f'lang="{html_lang}"'))
    select_text(page, "words")
    dialog = open_dialog(page)
    with page.expect_request("**/api/v1/reports") as request:
        send(dialog)
    assert request.value.post_data_json["lang"] == sent
    [row] = submissions(live_server.app)
    assert (row.exact, row.lang) == ("words", sent)


def test_article_root_from_data_root(page, pages, live_server):  # noqa: F811
    url = pages.article("/root.html", '<div class="story"><p>Only this story counts.</p></div><p>Not this.</p>',
                        script_attrs='data-root=".story"')
    page.goto(url)
    select_text(page, "this story")
    send(open_dialog(page))
    [row] = submissions(live_server.app)
    assert (row.prefix, row.exact, row.suffix) == ("Only ", "this story", " counts.")


def test_markup_looking_page_text_stays_text(capture_page, live_server):
    alerts = []
    capture_page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    payload = "<img src=x onerror=alert(1)>"
    select_text(capture_page, payload)
    dialog = open_dialog(capture_page)
    expect(dialog.locator("mark")).to_have_text(payload)
    assert capture_page.evaluate(
        "document.querySelector('copydesk-dialog').shadowRoot.querySelectorAll('img').length") == 0
    send(dialog)
    assert alerts == []
    [row] = submissions(live_server.app)
    assert row.exact == payload


def test_triple_clicked_paragraph_reads_without_the_next_one(capture_page, live_server):
    # Chrome ends a triple-click selection at the start of the next block.
    capture_page.get_by_text("First paragraph ends here.").click(click_count=3)
    send(open_dialog(capture_page))
    [row] = submissions(live_server.app)
    assert (row.prefix, row.exact) == ("Capture fixture ", "First paragraph ends here.")
    assert row.suffix == ""  # the selection ends its sentence


# In each language: a sentence before, then (before, selected first word, second word, after) of the next.
SENTENCES = {
    "en": ("The harbour was quiet.", "The keepers logged the ", "wether", "every", " night."),
    "ru": ("В гавани было тихо.", "Смотрители записывали ", "погоду", "каждую", " ночь."),
    "uk": ("У гавані було тихо.", "Доглядачі записували ", "погоду", "щоночі", " до журналу."),
    "kk": ("Айлақта тыныш болды.", "Күзетшілер ", "ауа", "райын", " күн сайын жазды."),
    "be": ("У гавані было ціха.", "Наглядчыкі пісалі ў ", "журнал", "кожную", " ноч."),
    "de": ("Im Hafen war es still.", "Die Wärter notierten ", "das", "Wetter", " jede Nacht."),
    "fr": ("Le port était calme.", "Les gardiens notaient ", "la", "météo", " chaque nuit."),
    "es": ("El puerto estaba tranquilo.", "Los guardas anotaban ", "el", "tiempo", " cada noche."),
    "it": ("Il porto era tranquillo.", "I guardiani annotavano il ", "tempo", "ogni", " notte."),
    "pt": ("O porto estava calmo.", "Os faroleiros anotavam o ", "tempo", "todas", " as noites."),
    "pl": ("W porcie było cicho.", "Latarnicy zapisywali ", "pogodę", "każdej", " nocy."),
    "tr": ("Liman sessizdi.", "Bekçiler her gece ", "hava", "durumunu", " kaydetti."),
    "ar": ("كان الميناء هادئا.", "سجل الحراس ", "حالة", "الطقس", " كل ليلة."),
    "he": ("בנמל היה שקט.", "השומרים רשמו את ", "מזג", "האוויר", " בכל לילה."),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_reads_the_selection_in_its_sentence(page, pages, live_server, lang):  # noqa: F811
    # Across an element boundary and a line break; the context is the sentence, cut at word boundaries.
    first, before, one, two, after = SENTENCES[lang]
    kind = KINDS[LANGUAGES.index(lang) % len(KINDS)]
    words = texts(lang)
    rtl = ' dir="rtl"' if lang in ("ar", "he") else ""
    page.goto(pages.article(f"/capture-{lang}.html", f"<article><h1>{first}</h1><p>{first} {before}<em>{one}</em>\n"
                            f"      {two}{after}</p><p>{first}</p></article>", html_attrs=f'lang="{lang}"{rtl}'))
    select_text(page, one, two, within="p")
    dialog = open_dialog(page)
    expect(dialog.locator("mark")).to_have_text(f"{one} {two}")
    dialog.get_by_text(words[kind]).click()
    dialog.get_by_role("button", name=words["send"]).click()
    expect(dialog.get_by_role("status")).to_have_text(words["thanks"])
    [row] = submissions(live_server.app)
    assert (row.prefix, row.exact, row.suffix, row.lang) == (before, f"{one} {two}", after, lang)
    assert kind_counts(live_server.app) == [{kind: 1}]
