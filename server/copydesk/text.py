"""Plain-text handling for everything readers send, and the one place that
cleans HTML (nh3), so there is a single module to audit."""

import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import nh3

# Zero-width characters and soft hyphens carry no visible text.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# C0/C1 controls other than tab/newline: PostgreSQL refuses NUL, and none are text.
# Unpaired surrogates (a JS slice through an emoji) cannot be encoded as UTF-8 at all.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Browsers send location.href percent-encoded: raw spaces, controls or invisible/bidi
# characters (which could disguise where a link goes) mean it is not a page address.
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")


def strip_controls(value: str) -> str:
    return _CONTROLS.sub("", value).replace("\r\n", "\n").replace("\r", "\n")


def normalize_inline(value: str) -> str:
    """Collapse every kind of whitespace (including NBSP and line breaks) to one
    space and drop invisible characters: how the widget reads the page."""
    value = strip_controls(value).translate(_INVISIBLE)
    return _WHITESPACE.sub(" ", value)


def normalize_block(value: str) -> str:
    """Comments keep their line breaks but lose control characters."""
    return unicodedata.normalize("NFC", strip_controls(value)).strip()


def normalize_page_url(url: str) -> str:
    """The page identity for grouping: scheme and host lower-cased, default
    ports, fragment and trailing slash dropped; the query string kept (it can
    select an article)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def storable(value: str) -> bool:
    """False for text no database column can hold (NUL, unpaired surrogates)."""
    return not _UNSTORABLE.search(value)


def is_http_url(value: str) -> bool:
    """Only http(s) URLs ever become links."""
    if _NOT_IN_URL.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def clean_html(html: str) -> str:
    """The only sanitizer: for operator-supplied HTML that is rendered as HTML.
    Reader input is never passed here; it stays plain text and is escaped."""
    return nh3.clean(html, tags={"a", "b", "strong", "em", "i", "br", "p", "code"},
                     url_schemes={"http", "https", "mailto"})
