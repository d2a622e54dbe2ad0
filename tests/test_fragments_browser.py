"""The links in notifications open the page at the reported words: Chromium follows the
text fragment of ``fragments.page_link`` and highlights exactly those words, at the right
one of several occurrences.

Text fragments do not select anything and scripts cannot read which text they matched, so
the test styles the match (``::target-text``) in a colour nothing else on the page has,
takes a screenshot of each paragraph in view and reads back, character by character,
which text has that colour behind it.
"""

import html
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from copydesk.fragments import page_link
from copydesk.models import Report

MARK = (0, 200, 0)
STYLE = """
::target-text { background-color: rgb(0, 200, 0); color: rgb(0, 0, 255); }
body { font: 18px/1.6 sans-serif; margin: 0; padding: 0 16px; color: #222; }
.gap { height: 1400px; }
"""
# The widget's default context length (widget/src/dialog.js, max_context).
MAX_CONTEXT = 64


class Article:
    """A page of blocks served on loopback; with ``gaps`` between blocks so that only the
    block scrolled to is in view."""

    def __init__(self, blocks, gaps=True):
        self.blocks = blocks
        body = ("<div class=gap></div>" if gaps else "").join(
            f'<{tag} id="b{i}">{html.escape(text)}</{tag}>' for i, (tag, text) in enumerate(blocks))
        self.page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><style>{STYLE}</style>'
                     f"</head><body><article>{body}</article></body></html>").encode()
        article = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(article.page)))
                self.end_headers()
                self.wfile.write(article.page)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/2026/story?id=7#comments"

    def capture(self, block, words, occurrence=0, through=None):
        """The report the widget would send for these words in that block (the
        ``occurrence``-th time they appear in it), or from them through the words
        ``through`` in a later block: the article's text with block breaks as spaces,
        whitespace collapsed, as ``widget/src/loader.js`` reads it."""
        texts = [text for _, text in self.blocks]
        start = -1
        for _ in range(occurrence + 1):
            start = texts[block].index(words, start + 1)
        offset = sum(len(text) + 1 for text in texts[:block]) + start
        whole = " ".join(texts)
        end = offset + len(words)
        if through:
            end_block, end_words = through
            end = sum(len(text) + 1 for text in texts[:end_block]) + texts[end_block].index(end_words) + len(end_words)
        return Report(page_url=self.url, canonical_url=None, exact=whole[offset:end],
                      prefix=whole[:offset][-MAX_CONTEXT:].lstrip(), suffix=whole[end:][:MAX_CONTEXT].rstrip())

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _png_pixels(png):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB(A) PNG, as Chromium's screenshots are."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data = 8, b""
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        chunk = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and not interlace
            size = 3 if color == 2 else 4
        elif kind == b"IDAT":
            data += chunk
        position += 12 + length
    raw, stride, rows, previous = zlib.decompress(data), width * size, [], bytearray(width * size)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up, corner = previous[x], previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, size)])
        previous = line
    return width, height, rows


# Each character of the visible blocks with its box, in viewport pixels.
CHARACTERS = """() => {
  const seen = [];
  for (const block of document.querySelectorAll("article > [id]")) {
    const box = block.getBoundingClientRect();
    if (box.bottom < 0 || box.top > innerHeight) continue;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      for (let i = 0; i < node.data.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const r = range.getBoundingClientRect();
        seen.push([block.id, node.data[i], r.left, r.top, r.width, r.height]);
      }
    }
  }
  return seen;
}"""


def highlighted(page, url):
    """Open ``url`` in a new page load and answer {block id: the highlighted text in it}."""
    page.goto("about:blank")  # else a link to the same page only scrolls, keeping the last highlight
    page.goto(url)
    page.wait_for_function("() => scrollY > 0 || document.readyState == 'complete'")
    page.wait_for_timeout(300)  # the fragment is applied after load, then scrolled to
    characters = page.evaluate(CHARACTERS)
    width, height, rows = _png_pixels(page.screenshot())
    found = {}
    for block, char, left, top, char_width, char_height in characters:
        x = int(left + char_width / 2)
        column = [rows[y][x] for y in range(max(0, int(top)), min(height, int(top + char_height)))
                  if 0 <= x < width]
        if MARK in column:
            found[block] = found.get(block, "") + char
    return found


@pytest.fixture
def article():
    made = []

    def make(blocks, gaps=True):
        made.append(Article(blocks, gaps))
        return made[-1]
    yield make
    for one in made:
        one.stop()


def test_the_link_highlights_the_reported_occurrence(article, page):
    story = article([
        ("h1", "The principle keeper"),
        ("p", "The first principle keeper came in spring. The principle keeper of Ness came later."),
        ("p", "Each keeper stood a four-hour watch. The principle keeper kept the accounts."),
        ("p", "A principle keeper kept nothing, and the principle keeper slept."),
    ])
    for block, occurrence in [(1, 1), (2, 0), (3, 1), (3, 0)]:
        link = page_link(story.capture(block, "principle keeper", occurrence))
        assert "#comments" not in link and link.startswith(story.url.split("#")[0] + "#:~:text=")
        found = highlighted(page, link)
        assert found == {f"b{block}": "principle keeper"}, (block, occurrence, link)


def test_context_stays_within_the_selections_block(article, page):
    # The widget sends a heading and the paragraph after it as one run of text ("Daily log
    # Teh keeper rose…"); context across the two would match nothing at all.
    story = article([
        ("h2", "Daily log"),
        ("p", "Teh keeper rose early."),
        ("p", "The keeper rose late, and teh keeper wrote the log."),
    ], gaps=False)
    for block, words in [(1, "rose"), (1, "Teh"), (0, "log"), (1, "Teh keeper")]:
        link = page_link(story.capture(block, words))
        assert highlighted(page, link) == {f"b{block}": words}, (words, link)
    # Selected across the heading and the paragraph: both parts are highlighted.
    link = page_link(story.capture(0, "log", through=(1, "Teh keeper")))
    assert highlighted(page, link) == {"b0": "log", "b1": "Teh keeper"}, link


def test_a_selection_across_paragraphs_is_highlighted_whole(article, page):
    story = article([
        ("p", "The lamp was lit at dusk."),
        ("p", "The keepers wound the clockwork every two hours. Nobody slept."),
        ("p", "Supplies came by boat on Tuesdays, wether permitting."),
    ])
    # Selected from "every two hours." in one paragraph through "came by boat" in the next;
    # the gap between them keeps the later one out of view, so look at the first.
    report = story.capture(1, "every two hours.", through=(2, "came by boat"))
    link = page_link(report)
    assert highlighted(page, link) == {"b1": "every two hours. Nobody slept."}
    # The highlight runs on into the next paragraph: scroll there and look again.
    page.evaluate("document.getElementById('b2').scrollIntoView()")
    characters = page.evaluate(CHARACTERS)
    width, height, rows = _png_pixels(page.screenshot())
    text = "".join(char for block, char, left, top, w, h in characters if block == "b2" and MARK in
                   [rows[y][int(left + w / 2)] for y in range(max(0, int(top)), min(height, int(top + h)))])
    assert text == "Supplies came by boat"


def test_a_long_selection_is_given_by_its_first_and_last_words(article, page):
    words = "the keepers wound the clockwork of the great lens every two hours through the night"
    story = article([("p", f"Before the war {words}, and slept by day."),
                     ("p", f"After the war {words} no more.")])
    report = story.capture(0, words)
    link = page_link(report)
    assert link.count(",") >= 2  # prefix-, textStart, textEnd (and -suffix)
    assert highlighted(page, link) == {"b0": words}


def test_a_selection_inside_a_word_and_odd_characters(article, page):
    story = article([
        ("p", "«Смотритель-маяка», — сказал он, & ушёл; 100% «смотритель-маяка» остался."),
        ("p", "The cat, the cart & the catalogue — a-b, c#d."),
    ])
    cases = [
        (0, "«смотритель-маяка»", 0, "«смотритель-маяка»"),
        (0, "он, & ушёл", 0, "он, & ушёл"),
        (1, "ca", 1, "ca"),  # inside "cart"
        (1, "a-b, c#d", 0, "a-b, c#d"),
    ]
    for block, words, occurrence, expected in cases:
        link = page_link(story.capture(block, words, occurrence))
        assert highlighted(page, link) == {f"b{block}": expected}, (words, link)
