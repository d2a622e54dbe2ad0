"""Links that open a report's page at the reported words: URL text fragments
(``#:~:text=…``, https://wicg.github.io/scroll-to-text-fragment/), which the browser scrolls
to and highlights.

The widget captures the selection and its context as page text with every run of
whitespace, block breaks included, collapsed to one space (``widget/src/loader.js``), so
block boundaries cannot be seen in a report. A text fragment's terms must each lie within one
block (only the whitespace between prefix, start and suffix may cross one), so the context
used here stops at sentence ends, where paragraphs and list items end too, and keeps only
the few words nearest the selection.
"""

import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

# Words of context on each side: enough to tell apart the same words elsewhere on the page.
CONTEXT_WORDS = 3
# A longer selection (or one across sentences) is given as its first and last words.
LONG_SELECTION_WORDS = 8
EDGE_WORDS = 4

# A sentence ends at . ! ? … (with any closing quotes or brackets) before a space.
_CLOSERS = "\"'»”’)]"
_SENTENCE_END = re.compile(rf"[.!?…][{re.escape(_CLOSERS)}]*(?=\s|$)")
_ENDS_SENTENCE = re.compile(rf"[.!?…][{re.escape(_CLOSERS)}]*$")
_SENTENCE_BREAK = re.compile(rf"[.!?…][{re.escape(_CLOSERS)}]*\s")


def encode_term(text):
    """One term of a text directive, percent-encoded: everything but unreserved letters,
    digits and ``._~`` (so ``-``, ``,`` and ``&``, which the syntax uses, never appear raw)."""
    return quote(text, safe="").replace("-", "%2D")


def after_last_sentence_end(text):
    """What ``text`` has after its last sentence end (all of it if none): the start of the
    sentence it leads into. Messages (a reader's thank-you) cut sentences with this too."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[ends[-1].end():] if ends else text


def through_first_sentence_end(text):
    """``text`` up to and with its first sentence end (all of it if none)."""
    end = _SENTENCE_END.search(text)
    return text[:end.end()] if end else text


def _capitalised(word):
    letter = next((char for char in word if char.isalpha()), "")
    return letter.isupper()


def _context_before(prefix, exact):
    """The prefix's words nearest the selection that surely share its block: within its
    sentence, and not before a capitalised word (a heading may end right there). A
    selection starting inside a word gets the rest of that word this way, which it needs:
    without context a text fragment's start and end match whole words only."""
    if not prefix or (prefix[-1].isspace() and _capitalised(exact)):
        return []  # the selection may start a block
    words = after_last_sentence_end(prefix).split()[-CONTEXT_WORDS:]
    starts = [index for index, word in enumerate(words) if _capitalised(word)]
    return words[starts[-1]:] if starts else words


def _context_after(suffix, exact):
    """The suffix's words nearest the selection that surely share its block: up to the end
    of its sentence and before any capitalised word (the next block may start there)."""
    if not suffix or (suffix[0].isspace() and _ENDS_SENTENCE.search(exact)):
        return []
    words = through_first_sentence_end(suffix).split()[:CONTEXT_WORDS]
    starts = [index for index, word in enumerate(words) if _capitalised(word)]
    if starts and starts[0] == 0 and suffix[0].isspace():
        return []
    cut = next((index for index in starts if index > 0), len(words))
    return words[:cut]


def _runs(exact):
    """The selection cut where a block may begin: after a sentence's end and before a
    capitalised word (a heading or list item has no full stop)."""
    runs, words = [[]], exact.split(" ")
    for index, word in enumerate(words):
        after_end = index and _ENDS_SENTENCE.search(words[index - 1])
        if runs[-1] and (after_end or _capitalised(word)):
            runs.append([])
        runs[-1].append(word)
    return [" ".join(run) for run in runs]


# Cached: the list draws a link for every row, and the same rows for every editor who opens it.
@lru_cache(maxsize=2048)
def directive(exact, prefix="", suffix=""):
    """The ``text=`` directive's value (encoded) for a selection and its captured context."""
    exact = " ".join(exact.split())
    if not exact:
        return ""
    before_term = " ".join(_context_before(prefix, exact))
    after_term = " ".join(_context_after(suffix, exact))

    runs = _runs(exact)
    if len(runs) > 1 or len(exact.split(" ")) > LONG_SELECTION_WORDS:
        # Long, or perhaps across blocks: its first and last words, each within one run.
        first, last = runs[0].split()[:EDGE_WORDS], runs[-1].split()[-EDGE_WORDS:]
        terms = [encode_term(" ".join(first)), encode_term(" ".join(last))]
    else:
        terms = [encode_term(exact)]
    if before_term:
        terms.insert(0, encode_term(before_term) + "-")
    if after_term:
        terms.append("-" + encode_term(after_term))
    return ",".join(terms)


def page_link(report):
    """The report's page (its canonical address if it has one) opened at the reported
    words. Any ``#fragment`` the page address had is left out."""
    url = report.canonical_url or report.page_url
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    value = directive(report.exact, report.prefix or "", report.suffix or "")
    return f"{base}#:~:text={value}" if value else base
