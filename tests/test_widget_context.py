"""The context around a selection ends at word boundaries and, where it fits, is the sentence
around the selection (Intl.Segmenter where the browser has it, a fallback otherwise); and the
dialog, its texts and the site's settings are fetched once the reader selects, so the key opens
the dialog at once."""

import pytest
from playwright.sync_api import expect

from widget_pages.helpers import open_dialog, pages, select_text, submissions, texts  # noqa: F401

ARTICLE = ("<article><p>The storm came at night. The keepers wrote in a recieved hand daily. "
           "Nobody read it.</p><p>On the second day the wind turned and the relief boat, which had waited in the "
           "harbour for a week, finally set out with the supplies and a new logbook for the recieved watch "
           "of the keepers who had stayed through the worst of it all, and then some more words so that the "
           "sentence runs well past the limit.</p></article>")
NO_SEGMENTER = "delete Intl.Segmenter"


def quote(dialog):
    return dialog.locator("blockquote").inner_text()


@pytest.mark.parametrize("segmenter", [True, False], ids=["segmenter", "fallback"])
def test_the_sentence_around_the_selection_where_it_fits(new_context, pages, live_server, segmenter):  # noqa: F811
    context = new_context()
    if not segmenter:
        context.add_init_script(NO_SEGMENTER)
    page = context.new_page()
    page.goto(pages.article("/sentence.html", ARTICLE))
    assert page.evaluate("!!Intl.Segmenter") == segmenter
    select_text(page, "recieved")
    dialog = open_dialog(page)
    assert quote(dialog) == "The keepers wrote in a recieved hand daily."  # whole: no "…"
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(texts("en")["thanks"])
    [row] = submissions(live_server.app)
    assert (row.prefix, row.exact, row.suffix) == ("The keepers wrote in a ", "recieved", " hand daily.")


@pytest.mark.parametrize("segmenter", [True, False], ids=["segmenter", "fallback"])
def test_a_long_sentence_is_cut_at_word_boundaries(new_context, pages, live_server, segmenter):  # noqa: F811
    context = new_context()
    if not segmenter:
        context.add_init_script(NO_SEGMENTER)
    page = context.new_page()
    page.goto(pages.article("/words.html", ARTICLE))
    select_text(page, "recieved watch")
    dialog = open_dialog(page)
    shown = quote(dialog)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text(texts("en")["thanks"])
    [row] = submissions(live_server.app)
    # At most 64 characters, starting and ending with whole words.
    text = page.locator("article").inner_text().replace("\n", " ")
    at = text.index("recieved watch")
    before, after = text[:at], text[at + len("recieved watch"):]
    assert 50 <= len(row.prefix) <= 64 and before.endswith(row.prefix)
    assert before[-len(row.prefix) - 1] == " " and row.prefix[0].isalpha()
    assert 50 <= len(row.suffix) <= 64 and after.startswith(row.suffix)
    assert after[len(row.suffix)] == " " and row.suffix[-1] != " "
    # The dialog showed the same, marked as cut.
    assert shown == f"…{row.prefix}recieved watch{row.suffix}…"


def test_selecting_fetches_the_dialog_ahead_so_the_key_needs_no_request(new_context, pages):  # noqa: F811
    context = new_context()
    page = context.new_page()
    desk = []
    page.on("request", lambda r: desk.append(r.url.split("/")[-1].split(".")[0]) if pages.desk in r.url else None)
    page.goto(pages.article("/ahead.html", "<article><p>Some words to select.</p></article>", html_attrs='lang="uk"'))
    page.wait_for_load_state("networkidle")
    assert desk == ["copydesk", "copydesk-uk"]  # never the dialog at page load
    select_text(page, "words")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)
    assert sorted(desk[2:]) == ["copydesk-dialog", "copydesk-dialog-uk", "widget-config"]
    context.route(f"{pages.desk}/**", lambda route: route.abort())  # the desk is gone: nothing more is needed
    dialog = open_dialog(page)
    expect(dialog).to_have_accessible_name(texts("uk")["title"])
    assert len(desk) == 5
