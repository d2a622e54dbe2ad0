"""Plain-text handling for everything readers send: one module to audit. Nothing
readers send is ever rendered as HTML, so nothing here cleans HTML."""

import ipaddress
import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

# Zero-width characters and soft hyphens carry no visible text.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# C0/C1 controls other than tab/newline: PostgreSQL refuses NUL, and none are text.
# Unpaired surrogates (a JS slice through an emoji) cannot be encoded as UTF-8 at all.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Browsers send location.href percent-encoded: raw spaces, controls or invisible/bidi
# characters (which could disguise where a link goes) mean it is not a page address.
# Hangul fillers, the grapheme joiner, the Mongolian vowel separator, the Arabic letter
# mark and tag characters render as nothing too.
_NOT_IN_URL = re.compile(
    r"[\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2069\u3164\ufeff\uffa0\ud800-\udfff\U000e0000-\U000e007f]")
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
    """Only http(s) URLs ever become links: no user name or password before the host
    (``https://site.example.com@evil.example/``), and the host as browsers send it,
    ASCII (punycode), so a look-alike Unicode host cannot pass for the site's."""
    if _NOT_IN_URL.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and parts.hostname.isascii() and "@" not in parts.netloc)


DEFAULT_PORTS = {"http": 80, "https": 443}
HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?")


@lru_cache(maxsize=2048)  # every row of the list asks, for its page
def origin_of(url: str) -> str:
    """The origin (scheme://host[:port]) a browser sends for a page at this http(s) URL:
    the default port left out, an IPv6 host in brackets, an internationalized host in
    punycode (IDNA). The one rule for the site form's origins and for every send's pages.
    Raises ``ValueError`` for a URL with no such origin."""
    refused = ValueError(f"{url!r} has no http(s) origin.")
    parts = urlsplit(url)
    port = parts.port  # raises ValueError on a port out of range or not a number
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname or port == 0 \
            or (port is not None and not re.search(r":[0-9]{1,5}\Z", parts.netloc)):
        raise refused
    host = parts.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise refused from None
        if not HOSTNAME.fullmatch(host):
            raise refused from None
    else:
        host = f"[{address.compressed}]" if address.version == 6 else address.compressed
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"
