"""The reader's core flow in a real browser: select, press the keys, send, thanks."""

import re

from playwright.sync_api import expect
from widget_pages.helpers import (MAC_PLATFORM, MAC_UA, THANKS, open_dialog, press_left_to_the_page, select_text,
                                  submissions)

# Plain text that runs into the first <em> of the demo article.
DEMO_START = "the weather into"
DEMO_END = "never allowed"


def page_text(page, selector="article"):
    """The article text as a reader sees it, whitespace collapsed: the oracle for capture."""
    return re.sub(r"\s+", " ", page.locator(selector).inner_text()).strip()


SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u00bb)\]]*\s+")


def expected_context(text, at, length, limit=64):
    """(prefix, suffix) the widget sends for text[at:at + length]: the rest of the sentence on each
    side where it fits in `limit` characters, else as much as fits, cut at a word boundary."""
    before, after = text[:at], text[at + length:]
    ends = [found.end() for found in SENTENCE_END.finditer(text)]
    start = max([0] + [end for end in ends if end <= at])
    stop = min([len(text)] + [end for end in ends if end >= at + length])
    if at - start <= limit:
        prefix = text[start:at]
    else:
        window = before[-limit - 1:]
        prefix = re.sub(r"^\S*\s", "", window, count=1) if re.search(r"\s", window) else window[1:]
    if stop - at - length <= limit:
        suffix = text[at + length:stop]
    else:
        window = after[:limit + 1]
        suffix = re.sub(r"\s\S*$", "", window) if re.search(r"\s", window) else window[:-1]
    return prefix, suffix.rstrip()


def report_via_widget(page, article_url, start=DEMO_START, end=DEMO_END, comment="Reads oddly here.",
                      suggestion="the weather in a log", key="Control+Enter"):
    """Report an error on `article_url` the way a reader does; returns what a
    stored report should hold: {"exact", "prefix", "suffix", "comment", "suggestion"}."""
    page.goto(article_url)
    text = page_text(page)
    selected = re.sub(r"\s+", " ", select_text(page, start, end))
    dialog = open_dialog(page, key)
    expect(dialog.locator("mark")).to_have_text(selected)
    dialog.get_by_label("Comment").fill(comment)
    dialog.get_by_label("Suggested correction").fill(suggestion)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_contain_text(THANKS)
    prefix, suffix = expected_context(text, text.index(selected), len(selected))
    return {"exact": selected, "prefix": prefix, "suffix": suffix, "comment": comment, "suggestion": suggestion}


def test_reader_reports_a_selection_across_an_element_boundary(page, live_server, demo):
    expected = report_via_widget(page, demo["article_url"])

    [row] = submissions(live_server.app)
    assert expected["exact"] == "the weather into a log that was never allowed"
    assert (row.exact, row.prefix, row.suffix) == (expected["exact"], expected["prefix"], expected["suffix"])
    assert row.prefix.endswith("wound the clockwork and wrote ")
    assert row.suffix.startswith(" to go blank, not even")
    assert row.position == page_text(page).index(expected["exact"])
    assert (row.comment, row.suggestion) == ("Reads oddly here.", "the weather in a log")
    assert row.title == "The Lighthouse Keepers of Skerryvore — Copydesk demo"
    assert row.page_url == demo["article_url"]
    assert row.canonical_url == demo["article_url"]
    assert row.lang == "en"
    assert (row.article_id, row.article_section, row.article_author, row.article_published) == (
        "demo-1", "Features", "Ada Pennick", "2026-11-02T08:00:00Z")


def test_close_leaves_the_page_as_it_was(page, demo):
    page.goto(demo["article_url"])
    expect(page.locator("[data-copydesk-hint]")).not_to_be_empty()  # filled once the page's texts arrive
    before = page.evaluate("document.documentElement.outerHTML")
    select_text(page, DEMO_START, DEMO_END)
    dialog = open_dialog(page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert page.evaluate("document.documentElement.outerHTML") == before


def test_mac_readers_use_cmd_enter_not_ctrl_enter(new_context, live_server, demo):
    context = new_context(user_agent=MAC_UA)
    context.add_init_script(MAC_PLATFORM)
    page = context.new_page()
    page.goto(demo["article_url"])
    expect(page.locator("[data-copydesk-hint]")).to_have_text(
        "If you find an error, please select a piece of text and press Cmd + Enter")
    select_text(page, DEMO_START, DEMO_END)

    assert press_left_to_the_page(page, "Control+Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)

    expected = report_via_widget(page, demo["article_url"], key="Meta+Enter")
    [row] = submissions(live_server.app)
    assert row.exact == expected["exact"]
