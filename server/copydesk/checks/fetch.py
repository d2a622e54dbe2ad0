"""Fetching a report's page without letting a report's URL reach anything else.

A page URL comes from a reader's browser, so it is untrusted: only http(s) on the site's
own origins, every redirect hop checked the same way, and the host resolved here and
checked (no private, loopback, link-local, multicast, reserved or unspecified address),
then connected to at exactly that address, so a second DNS answer (DNS rebinding) cannot
send the request elsewhere. TLS still checks the certificate for the host name (SNI too).
"""

import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urljoin, urlsplit

import urllib3

from ..text import is_http_url

TIMEOUT_SECONDS = 5.0
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
GONE = (404, 410)
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(Exception):
    """The page could not be read; the message says why, in words for an editor."""


class Refused(FetchError):
    """The URL, a redirect or an address is one the desk will not fetch."""


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    html: str = ""
    # The page was larger than MAX_BYTES: only its beginning was read.
    truncated: bool = False

    @property
    def gone(self):
        return self.status in GONE


def user_agent(desk_url):
    try:
        own = version("copydesk")
    except PackageNotFoundError:  # run from a source tree
        own = "dev"
    return f"Copydesk-Check/{own} (+{desk_url})" if desk_url else f"Copydesk-Check/{own}"


def resolve_host(host, port):
    """Every address ``host`` resolves to (the tests replace this to map names)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"Cannot resolve {host}: {error}.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address):
    """May the desk connect to this address without COPYDESK_CHECK_ALLOW_PRIVATE?"""
    address = ipaddress.ip_address(address.split("%")[0])
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        if embedded is not None:
            return is_public(str(embedded))
        if address.teredo:
            return is_public(str(address.teredo[1]))
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified)


def checked_addresses(url, site, allow_private):
    """The addresses to connect to for ``url``, after checking the URL and every address."""
    if not is_http_url(url) or not site.has_page(url):
        raise Refused(f"{url} is not an http(s) page on the site's origins.")
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve_host(parts.hostname, port)
    if not addresses:
        raise FetchError(f"{parts.hostname} has no address.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(f"{parts.hostname} resolves to {address}, a private or reserved address.")
    return parts, port, addresses


def fetch_page(url, site, *, agent, allow_private=False, timeout=TIMEOUT_SECONDS, max_bytes=MAX_BYTES):
    """The page at ``url`` (a ``Page``; 404 and 410 answered as ``Page.gone``). Raises
    ``Refused`` for a URL or address the desk will not fetch, ``FetchError`` when the
    page cannot be read as HTML within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    url = url.split("#")[0]
    for _hop in range(MAX_REDIRECTS + 1):
        response, pool = _request(url, site, agent, allow_private, deadline)
        try:
            if response.status in REDIRECTS and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"]).split("#")[0]
                continue
            if response.status in GONE:
                return Page(url, response.status)
            if not 200 <= response.status < 300:
                raise FetchError(f"The page answered HTTP {response.status}.")
            kind = response.headers.get("Content-Type", "")
            if kind.split(";")[0].strip().lower() != "text/html":
                raise FetchError(f"The page is {kind or 'of no stated type'}, not HTML.")
            body, truncated = _read(response, deadline, max_bytes)
            return Page(url, response.status, _decode(body, kind), truncated)
        finally:
            response.release_conn()
            pool.close()
    raise FetchError(f"More than {MAX_REDIRECTS} redirects.")


def _with_deadline(connection_class, deadline):
    """``connection_class`` whose socket is shut down at ``deadline`` from a timer thread:
    a server trickling its headers or body a byte at a time (each read within the read
    timeout) still cannot hold a check past the time limit."""
    class Connection(connection_class):
        def connect(self):
            super().connect()
            sock = self.sock
            timer = threading.Timer(max(deadline - time.monotonic(), 0), _shut, (sock,))
            timer.daemon = True
            timer.start()
    return Connection


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already: the check ended in time


def _request(url, site, agent, allow_private, deadline):
    parts, port, addresses = checked_addresses(url, site, allow_private)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    error = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        # The pool connects to the checked address; Host, SNI and the certificate use the name.
        options = dict(timeout=urllib3.Timeout(connect=remaining, read=remaining), retries=False, maxsize=1)
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=parts.hostname,
                                               assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
                                               **options)
        else:
            pool = urllib3.HTTPConnectionPool(address, port, **options)
        pool.ConnectionCls = _with_deadline(pool.ConnectionCls, deadline)
        try:
            response = pool.urlopen("GET", target, headers={
                "Host": host_header, "User-Agent": agent, "Accept": "text/html",
                "Accept-Encoding": "gzip, deflate"}, redirect=False, preload_content=False)
            if time.monotonic() >= deadline:  # headers cut off by the deadline: not a real answer
                response.release_conn()
                pool.close()
                raise FetchError("The page took longer than the time limit.")
            return response, pool
        except urllib3.exceptions.HTTPError as failure:
            pool.close()
            if time.monotonic() >= deadline:
                raise FetchError("The page took longer than the time limit.") from None
            error = failure
    raise FetchError(f"Cannot reach {parts.hostname}: {_reason(error) if error else 'timed out'}.")


def _read(response, deadline, max_bytes):
    """Up to ``max_bytes`` of the body, decoded from gzip/deflate; a read still going at the
    deadline fails (the connection's socket is shut down then: ``_with_deadline``)."""
    chunks, size = [], 0
    try:
        while size <= max_bytes:
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() >= deadline:
                raise FetchError("The page took longer than the time limit.")
    except (urllib3.exceptions.HTTPError, OSError) as error:
        if time.monotonic() >= deadline:
            raise FetchError("The page took longer than the time limit.") from None
        raise FetchError(f"Reading the page failed: {_reason(error)}.") from None
    if time.monotonic() >= deadline:  # cut off by the watchdog: the body ends early
        raise FetchError("The page took longer than the time limit.")
    body = b"".join(chunks)
    return body[:max_bytes], size > max_bytes


def _decode(body, content_type):
    match = re.search(r"charset=[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I) or _CHARSET.search(body[:2048])
    charset = match.group(1) if match else "utf-8"
    if isinstance(charset, bytes):
        charset = charset.decode("ascii")
    try:
        return body.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        # An unknown name, or a codec that is no text encoding or cannot replace (``idna``).
        return body.decode("utf-8", errors="replace")


def _reason(error):
    return str(getattr(error, "reason", None) or error).split(": ")[-1] or type(error).__name__
