"""Page checks: is the reported error still on the page? Re-anchoring, the article text,
the SSRF-safe fetch (against real local servers), the recorded state, the worker's job and
``copydesk check``."""

import ssl
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from selectolax.lexbor import LexborHTMLParser
from conftest import report_body, rows, with_settings

from copydesk.checks import PageCheck, check_report, due_reports, fixed_at, run_due
from copydesk.checks import fetch as fetching
from copydesk.checks.anchor import anchor
from copydesk.checks.text import article_texts, node_text
from copydesk.db import db
from copydesk.models import Report, Site, utcnow

# The test servers listen here and the tests treat it as a public address (see
# ``stand_in``): every other loopback, private or reserved address keeps the real rule.
STAND_IN = "127.0.0.9"


class PageServer:
    """A real HTTP(S) server for publisher pages. ``routes[path]`` is ``(status, headers,
    body)`` or a function taking the request handler; ``.requests`` records (path, headers)."""

    def __init__(self, host=STAND_IN, tls_context=None):
        self.routes, self.requests = {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path.split("?")[0])
                if callable(route):
                    return route(self)
                status, headers, body = route or (404, {}, "<p>Not found</p>")
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        # A client that stops reading (the size cap, the time limit) is expected here.
        self.httpd.handle_error = lambda _request, _address: None
        self.server_names = []
        if tls_context is not None:
            tls_context.sni_callback = lambda sock, name, _context: self.server_names.append(name)
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def origin(self, host=STAND_IN, scheme="http"):
        return f"{scheme}://{host}:{self.port}"

    def page(self, path, body, status=200, **headers):
        self.routes[path] = (status, headers, body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    page_server = PageServer()
    yield page_server
    page_server.stop()


@pytest.fixture
def names(monkeypatch):
    """Test DNS: ``names["news.example"] = "127.0.0.9"``; other names resolve for real.
    ``names.calls`` lists every lookup."""
    class Names(dict):
        calls = []
    table = Names()
    real = fetching.resolve_host

    def resolve(host, port):
        table.calls.append(host)
        answer = table.get(host)
        if answer is None:
            return real(host, port)
        return [answer() if callable(answer) else answer]
    monkeypatch.setattr(fetching, "resolve_host", resolve)
    return table


@pytest.fixture
def stand_in(monkeypatch):
    """STAND_IN counts as a public address; the real rule decides every other one."""
    real = fetching.is_public
    monkeypatch.setattr(fetching, "is_public", lambda address: address == STAND_IN or real(address))


class FakeSite:
    def __init__(self, *origins):
        self.allowed_origins = list(origins)

    has_page = Site.has_page
    allows = Site.allows


def fetch(url, *origins, **options):
    return fetching.fetch_page(url, FakeSite(*(origins or [url.rsplit("/", 1)[0] if url.count("/") > 2 else url])),
                               agent="Copydesk-Check/test", **options)


ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Keepers</title>
<script>var views = 1;</script><style>p {{ color: black }}</style></head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article>
<h1>The Lighthouse Keepers</h1><p class="meta">Updated {updated} · {views} views</p>
<p>Each keeper stood a four-hour watch. The {words} kept the accounts and the log.</p>
<p>In winter the supply boat came once a month, weather allowing.</p>
</article><aside><h2>Most read</h2><ul><li>{most_read}</li></ul></aside></main>
<footer>© 2026 The Daily</footer></body></html>"""


def article(words="principle keeper", updated="10:00", views=120, most_read="Storm closes the port"):
    return ARTICLE.format(words=words, updated=updated, views=views, most_read=most_read)


REPORTED = dict(exact="principle keeper", prefix="Each keeper stood a four-hour watch. The ",
                suffix=" kept the accounts and the log. In winter the supply boat came")


# --- Re-anchoring ---------------------------------------------------------------------

def text_of(html):
    return article_texts(html)[0]


def position_in(text, prefix, exact):
    return text.index(prefix + exact) + len(prefix)


def test_unchanged_article_is_still_there():
    text = text_of(article())
    result = anchor(text, **REPORTED, position=position_in(text, REPORTED["prefix"], REPORTED["exact"]))
    assert result.state == "still-there"
    assert result.detail["shift"] == 0


def test_typo_fixed_is_changed_with_the_new_words():
    text = text_of(article(words="principal keeper"))
    result = anchor(text, **REPORTED, position=70)
    assert result.state == "changed"
    assert result.detail["old"] == "principle keeper"
    assert result.detail["new"] == "principal keeper"


def test_phrase_moved_to_another_paragraph_is_moved_and_says_where():
    html = article().replace("The principle keeper kept the accounts and the log.", "").replace(
        "weather allowing.", "weather allowing. The principle keeper kept the accounts and the log.")
    text = text_of(html)
    result = anchor(text, **REPORTED, position=70)
    assert result.state == "moved"
    assert result.detail["offset"] == text.index("principle keeper")
    assert result.detail["before"].endswith("weather allowing. The ")
    assert result.detail["shift"] == text.index("principle keeper") - 70


@pytest.mark.parametrize("change", [
    dict(updated="17:45", views=98765),
    dict(most_read="A completely different headline about the harbour"),
], ids=["date-and-counter", "boilerplate"])
def test_changes_around_an_unchanged_article_keep_it_still_there(change):
    before = text_of(article())
    reported = dict(exact="Each keeper", prefix="The Lighthouse Keepers Updated 10:00 · 120 views ",
                    suffix=" stood a four-hour watch. The principle keeper kept")
    assert before.index(reported["prefix"] + "Each keeper") >= 0
    result = anchor(text_of(article(**change)), **reported, position=before.index("Each keeper"))
    assert result.state == "still-there"


def test_the_reported_one_of_repeated_words_is_found():
    text = "The keeper slept. " * 5 + "Each keeper stood a watch. " + "The keeper slept. " * 5
    result = anchor(text, "keeper", prefix="slept. Each ", suffix=" stood a watch. The", position=0)
    assert result.state == "still-there"
    assert result.detail["offset"] == text.index("Each keeper") + len("Each ")


def test_fixed_words_that_appear_elsewhere_too_are_changed():
    text = "Teh harbour is closed. The boat of teh keeper sails. Nothing more to say about it."
    result = anchor(text.replace("of teh keeper", "of the keeper"), "teh", prefix="closed. The boat of ",
                    suffix=" keeper sails. Nothing more", position=text.index("teh"))
    assert result.state == "changed"
    assert result.detail["new"] == "the"


def test_rewritten_paragraph_is_changed():
    text = text_of(article().replace(
        "Each keeper stood a four-hour watch. The principle keeper kept the accounts and the log.",
        "Keepers worked four-hour watches, and the chief of them kept the accounts and the log."))
    assert anchor(text, **REPORTED, position=70).state == "changed"


def test_a_different_page_is_unknown_not_changed():
    text = "Weather: sunny tomorrow, with light winds from the south and a high of twenty degrees."
    assert anchor(text, **REPORTED, position=70).state == "unknown"


def test_words_at_the_start_of_the_article_with_no_prefix():
    text = "Breaking: teh storm closed the port on Monday morning, officials said."
    assert anchor(text, "Breaking", prefix="", suffix=": teh storm closed the port", position=0).state == "still-there"
    fixed = text.replace("teh", "the")
    result = anchor(fixed, "teh", prefix="Breaking: ", suffix=" storm closed the port on Monday", position=10)
    assert (result.state, result.detail["new"]) == ("changed", "the")


def test_words_moved_far_with_all_their_context_are_still_there():
    # The rule: the words with their prefix and suffix are on the page (an editor added
    # paragraphs above them); only a change around them as well makes them "moved".
    text = "A new paragraph above it all. " * 30 + "Each keeper stood a four-hour watch. The principle keeper kept the accounts and the log. In winter the supply boat came"
    result = anchor(text, **REPORTED, position=70)
    assert (result.state, result.detail["offset"]) == ("still-there", text.index("principle keeper"))


def test_reported_words_in_a_teaser_are_found_in_their_own_root():
    html = article().replace("<aside>", '<aside><article><p>Teaser: the harbour reopens on Friday morning.</p></article>')
    texts = article_texts(html)
    from copydesk.checks.anchor import first_found
    results = [anchor(text, "reopens", prefix="Teaser: the harbour ", suffix=" on Friday morning.", position=20)
               for text in texts]
    assert results[0].state == "unknown"  # the main story does not hold them
    assert first_found(results).state == "still-there"


class Reported:
    def __init__(self, title, **fields):
        self.title, self.position = title, 70
        self.__dict__.update(REPORTED, **fields)


def test_rewritten_passage_of_the_same_article_is_changed_but_a_script_shell_is_unknown():
    from copydesk.checks import locate
    rewritten = article().replace(
        "<p>Each keeper stood a four-hour watch. The principle keeper kept the accounts and the log.</p>"
        "\n<p>In winter the supply boat came once a month, weather allowing.</p>",
        "<p>" + "Nothing here is as it was. " * 30 + "</p>")
    assert locate(rewritten, Reported("Keepers")).detail == {"old": "principle keeper", "new": "", "found": ["title"]}
    assert locate(rewritten, Reported("Another story")).state == "unknown"
    shell = '<html><head><title>Keepers</title></head><body><div id="app"></div><script src="/app.js"></script></body></html>'
    assert locate(shell, Reported("Keepers")).state == "unknown"


# --- The article's text, as the widget reads it ----------------------------------------

@pytest.mark.parametrize(("html", "text"), [
    ("<div>a</div><div>b</div>", "a b"),
    ("<p>a<b>b</b><i>c</i><custom-tag>d</custom-tag></p>", "abcd"),
    ("<p>Line one<br>line two</p>", "Line one line two"),
    ("<p>a<script>x()</script><style>p{}</style><template>t</template>b</p>", "ab"),
    # Chromium runs scripts, so it reads <noscript> as raw text, markup and all; so does the widget.
    ("<p>a<noscript><img src=x alt='n'> &amp;</noscript>b</p>", "a<img src=x alt='n'> &amp;b"),
    ('<p>a<span hidden>x</span><span style="color: red; display : none">y</span>b</p>', "ab"),
    ('<p>a<span style="display:block">b</span><div style="display: inline">c</div></p>', "a b c"),
    ("<p>a<textarea>x</textarea><select><option>y</option></select>b</p>", "ab"),
    ("<p>Non&nbsp;breaking, zero&#8203;width and soft&shy;hyphen</p>", "Non breaking, zerowidth and softhyphen"),
    ("<p>a<!-- comment -->b</p>\n\n<p>\t c </p>", "ab c"),
    ("<ul><li>one</li><li>two</li></ul><table><tr><td>x</td><td>y</td></tr></table>", "one two x y"),
], ids=["blocks", "inline", "br", "not-shown", "noscript", "hidden", "inline-style", "fields", "whitespace",
        "comments", "lists-tables"])
def test_article_text_reads_as_the_widget_does(html, text):
    assert text_of(f"<body>{html}</body>") == text


def test_article_root_in_the_widgets_order():
    html = """<body><nav>Menu</nav><main><div data-copydesk-root>Marked root</div>
    <article><div itemprop="articleBody">Body prop</div> and more</article> tail</main></body>"""
    texts = article_texts(html)
    assert texts[:4] == ["Marked root", "Body prop", "Body prop and more",
                         "Marked root Body prop and more tail"]
    assert texts[-1] == "Menu Marked root Body prop and more tail"
    assert article_texts(html, root_selector="nav")[0] == "Menu"


def test_deeply_nested_page_does_not_exhaust_the_stack():
    html = "<div>" * 20000 + "deep words" + "</div>" * 20000
    assert node_text(LexborHTMLParser(html).body) == "deep words"


# --- Which addresses may be fetched ----------------------------------------------------

@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("255.255.255.255", False), ("240.0.0.1", False), ("::1", False), ("::", False),
    ("fe80::1", False), ("fc00::1", False), ("ff02::1", False), ("::ffff:127.0.0.1", False),
    ("::ffff:169.254.169.254", False), ("::ffff:93.184.215.14", True), ("64:ff9b::a9fe:a9fe", False),
    ("2002:7f00:1::", False), ("2001:db8::1", False), ("fe80::1%eth0", False),
])
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address, public):
    assert fetching.is_public(address) is public


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://news.example/article", "gopher://news.example:70/_GET",
    "javascript:alert(1)", "data:text/html,<p>x</p>", "http://user@news.example/",
])
def test_ssrf_other_schemes_are_refused_without_a_lookup(url, names):
    with pytest.raises(fetching.Refused):
        fetch(url, "http://news.example", "https://news.example")
    assert names.calls == []


def test_ssrf_loopback_page_is_refused_unless_allowed():
    server = PageServer(host="127.0.0.1")
    try:
        server.page("/a", article())
        with pytest.raises(fetching.Refused, match="private or reserved"):
            fetch(server.origin("127.0.0.1") + "/a")
        assert server.requests == []
        assert "principle keeper" in fetch(server.origin("127.0.0.1") + "/a", allow_private=True).html
    finally:
        server.stop()


def test_ssrf_name_resolving_to_a_private_address_is_refused(server, names, stand_in):
    names["intranet.example"] = "10.1.2.3"
    for url in ("http://intranet.example/", f"http://localhost:{server.port}/"):
        with pytest.raises(fetching.Refused, match="private or reserved"):
            fetch(url)
    assert server.requests == []


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/a", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:7f00:1]:{port}/a",
    "http://[::1]:{port}/a", "http://10.0.0.1/", "http://metadata.example/",
], ids=["loopback", "metadata", "mapped-loopback", "ipv6-loopback", "private", "name-to-link-local"])
def test_ssrf_redirect_to_a_private_address_is_refused(server, names, stand_in, target):
    names["news.example"] = STAND_IN
    names["metadata.example"] = "169.254.169.254"
    target = target.format(port=server.port)
    server.page("/story", "", 302, Location=target)
    # The target is even on the site's origins: the address alone refuses it.
    from copydesk.text import origin_of
    with pytest.raises(fetching.Refused, match="private or reserved"):
        fetch(f"http://news.example:{server.port}/story", server.origin("news.example"), origin_of(target))
    assert [path for path, _headers in server.requests] == ["/story"]


def test_ssrf_redirect_off_the_sites_origins_is_refused(server, names, stand_in):
    names["news.example"] = names["other.example"] = STAND_IN
    server.page("/story", "", 301, Location=f"http://other.example:{server.port}/a")
    server.page("/a", article())
    with pytest.raises(fetching.Refused, match="not an http"):
        fetch(f"http://news.example:{server.port}/story")
    assert [path for path, _headers in server.requests] == ["/story"]


def test_redirect_on_the_origin_is_followed(server, names, stand_in):
    names["news.example"] = STAND_IN
    server.page("/old", "", 301, Location="/new?x=1#frag")
    server.page("/new", article())
    page = fetch(f"http://news.example:{server.port}/old")
    assert page.url == f"http://news.example:{server.port}/new?x=1"
    assert [path for path, _headers in server.requests] == ["/old", "/new?x=1"]
    assert server.requests[1][1]["Host"] == f"news.example:{server.port}"


def test_ssrf_dns_rebinding_connects_to_the_address_that_was_checked(server, names, stand_in):
    answers = iter([STAND_IN, "127.0.0.1", "127.0.0.1"])
    names["news.example"] = lambda: next(answers)
    server.page("/a", article())
    page = fetch(f"http://news.example:{server.port}/a")
    assert "principle keeper" in page.html
    assert names.calls == ["news.example"]  # one lookup: the address checked is the one used
    assert server.requests[0][1]["Host"] == f"news.example:{server.port}"


def test_https_checks_the_certificate_for_the_host_name(names, stand_in, test_ca, trust_test_ca):
    names["news.example"] = names["other.example"] = STAND_IN
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("news.example").configure_cert(context)
    tls_server = PageServer(tls_context=context)
    try:
        tls_server.page("/a", article())
        page = fetch(f"https://news.example:{tls_server.port}/a")
        assert "principle keeper" in page.html
        assert tls_server.server_names == ["news.example"]  # SNI carries the name, not the address
        with pytest.raises(fetching.FetchError, match="(?i)certificate|hostname"):
            fetch(f"https://other.example:{tls_server.port}/a")
    finally:
        tls_server.stop()


def test_huge_page_is_cut_at_2_mb(server, stand_in):
    sent = {}

    def huge(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        sent["bytes"] = 0
        try:
            handler.wfile.write(b"<p>Words at the top.</p>")
            for _ in range(200):  # 20 MB offered
                handler.wfile.write(b"<p>" + b"filler " * 14285 + b"</p>")
                sent["bytes"] += 100_000
        except OSError:
            pass
    server.routes["/huge"] = huge
    page = fetch(server.origin() + "/huge")
    assert page.truncated and len(page.html) == fetching.MAX_BYTES
    assert "Words at the top." in page.html
    time.sleep(0.5)
    assert sent["bytes"] < 10_000_000  # the desk stopped reading; the server could not send it all


@pytest.mark.parametrize("stall", ["headers", "body"])
def test_slow_page_times_out(server, stand_in, stall):
    def slow(handler):
        if stall == "headers":
            time.sleep(3)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        try:
            for _ in range(30):  # a byte every 0.1 s: each read is quick, the whole is not
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
    server.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(fetching.FetchError, match="time limit|timed out|Cannot reach"):
        fetch(server.origin() + "/slow", timeout=1)
    assert time.monotonic() - started < 1.5


def test_headers_trickled_a_byte_at_a_time_time_out(server, stand_in):
    """Each header byte comes within the read timeout; the whole never does."""
    def trickle(handler):
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"x" * 60:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
    server.routes["/trickle"] = trickle
    started = time.monotonic()
    with pytest.raises(fetching.FetchError, match="time limit"):
        fetch(server.origin() + "/trickle", timeout=1)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("charset", ["idna", "hex", "rot13", "no-such-charset"])
def test_a_page_declaring_a_charset_that_cannot_decode_is_read_as_utf8(server, stand_in, charset):
    """``idna`` cannot replace undecodable bytes and ``hex`` is no text encoding: both used to
    raise out of the check (and stop every later check in the worker's round)."""
    server.page("/odd", '<p>Смотритель маяка</p>'.encode(), **{"Content-Type": f"text/html; charset={charset}"})
    assert "Смотритель маяка" in fetch(server.origin() + "/odd").html


def test_only_html_is_read(server, stand_in):
    server.page("/data.json", '{"a": 1}', **{"Content-Type": "application/json"})
    with pytest.raises(fetching.FetchError, match="not HTML"):
        fetch(server.origin() + "/data.json")


def test_page_in_a_legacy_charset_is_decoded(server, stand_in):
    server.page("/ru", "<p>Смотритель маяка</p>".encode("cp1251"), **{"Content-Type": "text/html; charset=windows-1251"})
    server.page("/meta", '<meta charset="windows-1251"><p>Смотритель</p>'.encode("cp1251"),
                **{"Content-Type": "text/html"})
    assert "Смотритель маяка" in fetch(server.origin() + "/ru").html
    assert "Смотритель" in fetch(server.origin() + "/meta").html


# --- Checking reports: the recorded state, the worker's job, the command ---------------

def file_report(client, make_site, origin, path="/a", name="Daily", key="k-0000000001", **fields):
    site_key = make_site(name=name, origins=[origin])
    body = report_body(site_key, url=origin + path, canonical_url=None, idempotency_key=key,
                       **{**REPORTED, "position": 70, **fields})
    response = client.post("/api/v1/reports", json=body, headers={"Origin": origin})
    assert response.status_code == 201, response.json
    return response.json["id"]


def check(app, report_id):
    with app.app_context():
        return check_report(db.session.get(Report, report_id))


def recorded(app, report_id):
    with app.app_context():
        row = db.session.get(PageCheck, report_id)
        return row and (row.state, row.detail, row.http_status, row.attempts)


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_check_records_each_state(app, client, make_site, server):
    report_id = file_report(client, make_site, server.origin())
    server.page("/a", article())
    assert check(app, report_id) == "still-there"
    assert recorded(app, report_id)[0::2] == ("still-there", 200)

    server.page("/a", article(words="principal keeper"))
    assert check(app, report_id) == "changed"
    state, detail, status, attempts = recorded(app, report_id)
    assert detail["new"] == "principal keeper" and attempts == 0

    for gone in (404, 410):
        server.page("/a", "<p>Gone</p>", gone)
        assert check(app, report_id) == "page-gone"
        assert recorded(app, report_id)[0::2] == ("page-gone", gone)

    server.page("/a", "<p>Oops</p>", 500)
    assert check(app, report_id) == "unknown"
    assert check(app, report_id) == "unknown"
    state, detail, status, attempts = recorded(app, report_id)
    assert "HTTP 500" in detail["reason"] and attempts == 2
    user_agent = server.requests[-1][1]["User-Agent"]
    assert user_agent.startswith("Copydesk-Check/") and "(+http" in user_agent


def test_check_refuses_a_loopback_page_by_default(app, client, make_site, server):
    report_id = file_report(client, make_site, server.origin("127.0.0.1"))
    server.page("/a", article())
    assert check(app, report_id) == "unknown"
    assert recorded(app, report_id)[1]["refused"] is True
    assert server.requests == []


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_words_beyond_the_2_mb_cap_are_unknown_not_changed(app, client, make_site, server):
    report_id = file_report(client, make_site, server.origin())
    server.page("/a", "<article>" + "<p>filler words</p>" * 150_000 + article()[200:])
    assert check(app, report_id) == "unknown"
    assert "2 MB" in recorded(app, report_id)[1]["reason"]


def test_removing_a_site_removes_its_checks(app, client, make_site, server):
    report_id = file_report(client, make_site, server.origin("127.0.0.1"))
    check(app, report_id)
    with app.app_context():
        db.session.get(Report, report_id).site.remove()
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PageCheck)) == 0


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_run_due_checks_open_reports_daily_and_fixes_a_day_later(app, client, make_site, server, make_editor):
    from copydesk.models import Editor
    server.page("/a", article())
    ids = [file_report(client, make_site, server.origin(), name=f"Site {n}", key=f"k-00000000{n:02d}")
           for n in range(5)]
    unchecked, checked_today, checked_long_ago, fixed, not_an_error = ids
    editor_id = make_editor()
    now = utcnow()
    with app.app_context():
        editor = db.session.get(Editor, editor_id)
        for report_id in (checked_today, checked_long_ago):
            check_report(db.session.get(Report, report_id))
        db.session.get(PageCheck, checked_long_ago).next_check_at = now - timedelta(minutes=1)
        db.session.get(Report, fixed).close("fixed", by=editor)
        db.session.get(Report, not_an_error).close("not_an_error", by=editor)
        db.session.commit()
        assert fixed_at(fixed) is not None and fixed_at(not_an_error) is None

        assert run_due() == {unchecked: "still-there", checked_long_ago: "still-there"}
        assert run_due() == {}
        # A day after the fix, the fixed report is checked once more, once.
        tomorrow = now + timedelta(days=1, minutes=1)
        assert set(run_due(tomorrow)) == {unchecked, checked_today, checked_long_ago, fixed}
        assert [r.id for r in due_reports(tomorrow)] == []
        assert db.session.get(PageCheck, fixed).state == "still-there"


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_run_due_stops_starting_checks_when_its_time_is_up(app, client, make_site, server):
    ids = [file_report(client, make_site, server.origin(), name=f"Site {n}", key=f"k-00000000{n:02d}")
           for n in range(3)]
    server.page("/a", article())
    with app.app_context():
        assert list(run_due(budget_seconds=0)) == ids[:1]
        assert sorted(run_due()) == ids[1:]


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_failed_checks_are_retried_sooner_than_a_day(app, client, make_site, server):
    report_id = file_report(client, make_site, server.origin())
    server.page("/a", "<p>Oops</p>", 503)
    with app.app_context():
        assert run_due() == {report_id: "unknown"}
        assert run_due(utcnow() + timedelta(minutes=59)) == {}
        assert run_due(utcnow() + timedelta(minutes=61)) == {report_id: "unknown"}
        # The second failure waits two hours.
        assert run_due(utcnow() + timedelta(minutes=61 + 119)) == {}
        server.page("/a", article())
        assert run_due(utcnow() + timedelta(hours=4)) == {report_id: "still-there"}
        assert db.session.get(PageCheck, report_id).attempts == 0


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_check_command_prints_one_line_per_report_and_a_summary(app, client, make_site, server, runner):
    server.page("/a", article())
    server.page("/b", article(words="principal keeper"))
    server.page("/c", "<p>Gone</p>", 410)
    ids = [file_report(client, make_site, server.origin(), path=path, name=f"Site {path}", key=f"k-{path[1]}-000000001")
           for path in ("/a", "/b", "/c")]
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{ids[0]} still-there", f"{ids[1]} changed", f"{ids[2]} page-gone",
        "Checked 3 reports: 1 still-there, 1 changed, 1 page-gone."]
    assert "Checking" not in result.output  # no progress when not on a terminal

    result = runner.invoke(args=["check", "--site", "Site /b"])
    assert result.stdout.splitlines() == [f"{ids[1]} changed", "Checked 1 report: 1 changed."]
    result = runner.invoke(args=["check", "--report", str(ids[2])])
    assert result.stdout.splitlines() == [f"{ids[2]} page-gone", "Checked 1 report: 1 page-gone."]
    states = rows(app, sa.select(PageCheck.report_id, PageCheck.state).order_by(PageCheck.report_id))
    assert [tuple(row) for row in states] == [(ids[0], "still-there"), (ids[1], "changed"), (ids[2], "page-gone")]


@with_settings(CHECK_ALLOW_PRIVATE=True)
def test_check_command_shows_progress_on_a_terminal_only(app, client, make_site, server, runner, monkeypatch):
    from copydesk.checks import commands
    server.page("/a", article())
    report_id = file_report(client, make_site, server.origin())
    monkeypatch.setattr(commands, "_on_terminal", lambda: True)
    result = runner.invoke(args=["check"])
    assert "Checking 1/1…" in result.stderr
    assert result.stdout.splitlines() == [f"{report_id} still-there", "Checked 1 report: 1 still-there."]


@pytest.mark.parametrize(("args", "message"), [
    (["check", "--site", "Nowhere"], "No site named or keyed 'Nowhere'"),
    (["check", "--report", "999"], "No report 999."),
    (["check", "--report", "zero"], "'zero' is not a valid integer"),
])
def test_check_command_refuses_unknown_sites_and_reports(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
