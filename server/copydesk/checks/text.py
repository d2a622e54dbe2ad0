"""An article's text as the widget reads it (widget/src/loader.js, ``captureSelection``).

The widget takes the selection's closest ancestor matching the site's root selector, else
``[data-copydesk-root]``, ``[itemprop=articleBody]``, ``article``, ``main`` (in that order),
else ``<body>``; it reads every text node under it, skips what is not shown (``display:
none``, textarea, select), puts a space around every element that is not inline (the
page's CSS decides; ``<br>`` counts as a block) and collapses whitespace. The server has no
CSS engine, so "shown" and "block" come from the HTML defaults, the ``hidden`` attribute
and an inline ``style``; a page that hides or un-blocks elements from a stylesheet reads a
little differently, which the fuzzy re-anchoring absorbs.

Parsed with selectolax (the Lexbor engine): an HTML5 parser that builds the same tree a
browser does from broken markup, written in C (a 2 MB page parses in milliseconds), and
maintained (releases through 2025). lxml's libxml2 parser is not HTML5 (it builds other
trees from real-world markup); html5lib is HTML5 but pure Python, slow, and barely
maintained.
"""

import re

from selectolax.lexbor import LexborHTMLParser

from ..text import normalize_inline

ARTICLE_ROOTS = ("[data-copydesk-root]", "[itemprop=articleBody]", "article", "main")

# Not shown by default (Chromium's own stylesheet), or never read by the widget (fields).
# Checked in Chromium: iframe, object, video and canvas are inline, their fallback read.
_SKIPPED = frozenset({
    "head", "script", "style", "template", "title", "meta", "link", "base", "datalist",
    "param", "source", "track", "area", "rp", "textarea", "select",
})
# HTML elements whose default display is not inline (ruby/rt too: the widget's test is
# /^(inline|contents)/); every other element, unknown and custom ones included, is inline.
_BLOCKS = frozenset({
    "html", "body", "address", "article", "aside", "blockquote", "center", "details", "dialog", "dd",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "legend", "li", "listing", "main", "menu", "nav", "ol",
    "p", "plaintext", "pre", "search", "section", "summary", "table", "caption", "thead", "tbody",
    "tfoot", "tr", "td", "th", "col", "colgroup", "ul", "xmp", "ruby", "rt", "br", "optgroup",
    "option", "frameset", "frame",
})
# Inside <svg> every element is inline (its <title>, <style> and <script> too: the widget
# reads them) except these; inside <math> every element's display is "math"/"block math".
_SVG_BLOCKS = frozenset({"text", "foreignobject"})
_DISPLAY = re.compile(r"(?:^|;)\s*display\s*:\s*([a-z-]+)", re.I)
# A browser running scripts parses <noscript> as raw text, and the widget reads that text
# (markup and all); the parser here builds elements from it, so the source is looked up.
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>(.*?)(?:</noscript|\Z)", re.I | re.S)


def _display(node, space):
    """'none', 'block' or 'inline' for an element in ``space`` ('html', 'svg', 'math'),
    from the defaults, the ``hidden`` attribute and an inline style."""
    tag = node.tag.lower()
    attributes = node.attributes
    declared = _DISPLAY.findall(attributes.get("style") or "")
    if declared:
        value = declared[-1].lower()
        return "none" if value == "none" else "inline" if value.startswith(("inline", "contents")) else "block"
    if space == "svg":
        return "block" if tag in _SVG_BLOCKS else "inline"
    if space == "math":
        return "block"
    if tag in _SKIPPED or ("hidden" in attributes and (attributes["hidden"] or "").lower() != "until-found"):
        return "none"
    if tag == "dialog" and "open" not in attributes:
        return "none"
    if tag == "audio" and "controls" not in attributes:
        return "none"
    if tag == "input" and (attributes.get("type") or "").lower() == "hidden":
        return "none"
    return "block" if tag in _BLOCKS else "inline"


def _space(tag, parent_space):
    if tag == "svg" and parent_space == "html":
        return "svg"
    if tag == "math" and parent_space == "html":
        return "math"
    if tag == "foreignobject" and parent_space == "svg":
        return "foreign"  # its children are HTML again
    return "html" if parent_space == "foreign" else parent_space


def node_text(root, raw=None):
    """The text under ``root`` the way the widget reads it: normalized, trimmed. ``raw``
    maps <noscript> elements (``mem_id``) to their source text."""
    parts = []
    # Iterative, so a page nested thousands of levels deep cannot exhaust Python's stack.
    stack = [(root, "html")]
    while stack:
        node, parent_space = stack.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
            continue
        if tag.startswith(("-", "_", "#")):  # comments, doctype
            continue
        space = _space(tag.lower(), parent_space)
        display = _display(node, "svg" if space == "foreign" else space)
        if display == "none":
            continue
        if tag == "noscript" and space == "html":
            parts.append((raw or {}).get(node.mem_id, node.inner_html or ""))
            continue
        block = display == "block"
        children = []
        child = node.child
        while child is not None:
            children.append((child, space))
            child = child.next
        if block:
            parts.append(" ")
            stack.append((" ", space))
        stack.extend(reversed(children))
    return normalize_inline("".join(parts)).strip()


def article_texts(html, root_selector=None):
    """The texts the widget may have read on this page, most specific first: each element
    matching the site's root selector, then each of ARTICLE_ROOTS, then the whole body
    (a selection outside every root). Duplicates are dropped."""
    tree = LexborHTMLParser(html)
    noscripts = tree.css("noscript")
    sources = _NOSCRIPT.findall(html)
    raw = {node.mem_id: source for node, source in zip(noscripts, sources)} if len(sources) == len(noscripts) else {}
    texts = []
    for selector in ((root_selector,) if root_selector else ()) + ARTICLE_ROOTS:
        try:
            roots = tree.css(selector)
        except Exception:  # a site's selector the parser cannot read: the widget ignores it too
            roots = []
        texts.extend(node_text(root, raw) for root in roots)
    if tree.body is not None:
        texts.append(node_text(tree.body, raw))
    return list(dict.fromkeys(text for text in texts if text)) or [""]


def page_title(html):
    """The page's ``<title>`` as ``document.title`` reads it (whitespace collapsed)."""
    title = LexborHTMLParser(html).css_first("title")
    return normalize_inline(title.text(deep=True)).strip() if title is not None else ""
