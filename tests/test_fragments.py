"""Text-fragment links (``#:~:text=…``): encoding, which context is used, and the page they
open. ``test_fragments_browser.py`` checks in Chromium that they highlight the right words."""

from urllib.parse import unquote

import pytest

from copydesk.fragments import directive, encode_term, page_link
from copydesk.models import Report


@pytest.mark.parametrize("term, encoded", [
    ("principle keeper", "principle%20keeper"),
    ("four-hour", "four%2Dhour"),
    ("a, b", "a%2C%20b"),
    ("salt & pepper", "salt%20%26%20pepper"),
    ("#1 at 100%", "%231%20at%20100%25"),
    ("“quoted” 'single' \"double\"", "%E2%80%9Cquoted%E2%80%9D%20%27single%27%20%22double%22"),
    ("смотритель", "%D1%81%D0%BC%D0%BE%D1%82%D1%80%D0%B8%D1%82%D0%B5%D0%BB%D1%8C"),
    ("a?b=c/d:e;f+g", "a%3Fb%3Dc%2Fd%3Ae%3Bf%2Bg"),
])
def test_terms_are_percent_encoded(term, encoded):
    assert encode_term(term) == encoded
    assert unquote(encoded) == term


def test_no_character_the_syntax_uses_is_left_raw():
    value = directive("a-b, c&d #e %f", "x-y, ", " z-w, &")
    for term in value.split(","):
        assert "&" not in term and "#" not in term and " " not in term
        assert term.strip("-").count("-") == 0


def test_the_nearest_words_of_the_sentence_are_the_context():
    assert directive("principle keeper", "Each keeper stood a four-hour watch. The ", " kept the accounts") == \
        "The-,principle%20keeper,-kept%20the%20accounts"
    assert directive("keeper", "one of the two lighthouse ", " on duty from dusk to dawn") == \
        "the%20two%20lighthouse-,keeper,-on%20duty%20from"


def test_context_stops_where_a_block_may_begin():
    # A heading ("Daily log") has no full stop; a capitalised word may start the next block.
    assert directive("rose", "Daily log Teh keeper ", " early. The end") == "Teh%20keeper-,rose,-early."
    assert directive("Teh", "Daily log ", " keeper rose") == "Teh,-keeper%20rose"
    assert directive("log", "Daily ", " Teh keeper rose") == "Daily-,log"
    # A selection ending a sentence takes no suffix; one after a sentence's end no prefix.
    assert directive("dawn.", "kept the light till ", " Then they slept.") == "the%20light%20till-,dawn."
    assert directive("then", "It was dusk. ", " they slept") == "then,-they%20slept"


def test_a_selection_inside_a_word_keeps_the_rest_of_the_word():
    assert directive("ca", "the big ", "rt rolled") == "the%20big-,ca,-rt%20rolled"
    assert directive("pri", "The ", "ncipal keeper") == "The-,pri,-ncipal%20keeper"


def test_a_long_selection_or_one_across_sentences_gives_its_first_and_last_words():
    words = "the keepers wound the clockwork of the great lens every two hours"
    assert directive(words, "By night ", " without fail") == \
        "By%20night-,the%20keepers%20wound%20the,lens%20every%20two%20hours,-without%20fail"
    assert directive("every two hours. Nobody slept. Supplies came", "wound it ", " by boat") == \
        "wound%20it-,every%20two%20hours.,Supplies%20came,-by%20boat"


def test_page_link_uses_the_canonical_address_without_the_pages_fragment():
    report = Report(page_url="https://daily.example.com/story?utm=x#top", canonical_url=None,
                    exact="principle keeper", prefix="The ", suffix=" kept")
    assert page_link(report) == "https://daily.example.com/story?utm=x#:~:text=The-,principle%20keeper,-kept"
    report.canonical_url = "https://daily.example.com/story"
    assert page_link(report) == "https://daily.example.com/story#:~:text=The-,principle%20keeper,-kept"
    report.exact = " "
    assert page_link(report) == "https://daily.example.com/story"
