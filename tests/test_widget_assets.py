"""How the desk serves the widget's files: every article page loads copydesk.js, so it comes
with a lifetime, a validator for a cheap 304, and brotli or gzip when the browser takes them; the
files it fetches (the dialog and the language files) carry the release in their names and are
immutable; a name from another release gets today's file, briefly cached."""

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import request, request_finished
from playwright.sync_api import expect

from conftest import with_settings
from copydesk.config import SettingError
from widget_pages.helpers import pages, select_text  # noqa: F401

STATIC = Path(__file__).resolve().parent.parent / "static"
RELEASE = re.search(r"copydesk-dialog\.([0-9a-f]+)\.js$", " ".join(p.name for p in STATIC.glob("copydesk-dialog.*.js")))[1]
DIALOG = f"copydesk-dialog.{RELEASE}.js"
RELEASED = [DIALOG, f"copydesk-ru.{RELEASE}.json", f"copydesk-en.{RELEASE}.json", f"copydesk-dialog-ar.{RELEASE}.json"]
CACHE_CONTROL = {"public", "max-age=3600", "stale-while-revalidate=86400"}
IMMUTABLE = {"public", "max-age=31536000", "immutable"}


def unbrotli(data):
    """Brotli-decoded bytes (node's zlib: Python's standard library has no brotli)."""
    if not shutil.which("node"):
        pytest.skip("needs node to decode brotli")
    return subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync("
                           "require('fs').readFileSync(0)))"], input=data, capture_output=True, check=True).stdout


def fetch(client, path="/static/copydesk.js", accept=None, method="GET", **headers):
    """One answer, read and closed (a file response holds the file open until closed)."""
    if accept is not None:
        headers["Accept-Encoding"] = accept
    response = client.open(path, method=method, headers=headers)
    response.get_data()
    response.close()
    return response


def cache_control(response):
    return {part.strip() for part in response.headers["Cache-Control"].split(",")}


def test_loader_is_served_gzipped_with_a_lifetime_and_a_validator(client):
    response = fetch(client, "/static/copydesk.js", "gzip, deflate")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.vary
    assert cache_control(response) == CACHE_CONTROL
    assert response.headers["ETag"]
    assert gzip.decompress(response.data) == (STATIC / "copydesk.js").read_bytes()
    assert int(response.headers["Content-Length"]) == len(response.data) < (STATIC / "copydesk.js").stat().st_size


@pytest.mark.parametrize("name", ["copydesk.js", *RELEASED])
def test_browsers_that_take_brotli_get_brotli(client, name):
    response = fetch(client, f"/static/{name}", "gzip, deflate, br")
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.vary
    assert unbrotli(response.data) == (STATIC / name).read_bytes()
    assert len(response.data) < (STATIC / f"{name}.gz").stat().st_size


@pytest.mark.parametrize("name", RELEASED)
def test_released_files_are_immutable(client, name):
    response = fetch(client, f"/static/{name}", "gzip")
    assert response.status_code == 200
    assert cache_control(response) == IMMUTABLE
    assert response.headers["Content-Type"] == (
        "text/javascript; charset=utf-8" if name.endswith(".js") else "application/json")
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == (STATIC / name).read_bytes()


def test_language_files_may_be_fetched_from_any_page(client):
    # The loader fetches them from the publisher's origin; they hold nothing private.
    response = fetch(client, f"/static/copydesk-de.{RELEASE}.json", "identity", Origin="https://daily.example.com")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert json.loads(response.data)[0].startswith("Wenn Sie einen Fehler finden")


@pytest.mark.parametrize(("asked", "served"), [
    ("copydesk-dialog.js", DIALOG),  # a loader from before releases had names
    ("copydesk-dialog.0123456789.js", DIALOG),  # the previous release's loader
    ("copydesk-ru.0123456789.json", f"copydesk-ru.{RELEASE}.json"),
    ("copydesk-dialog-ru.abcdef0123.json", f"copydesk-dialog-ru.{RELEASE}.json"),
])
def test_another_releases_name_gets_todays_file_briefly_cached(client, asked, served):
    response = fetch(client, f"/static/{asked}", "gzip")
    assert response.status_code == 200
    assert gzip.decompress(response.data) == (STATIC / served).read_bytes()
    assert cache_control(response) == CACHE_CONTROL  # never immutable under a name that is not its own


@pytest.mark.parametrize("asked", ["copydesk-xx.0123456789.json", "copydesk-dialog-xx.0123456789.json",
                                   "copydesk-dialog.0123456789.css", "copydesk-en.json.gz", "copydesk-../x.js",
                                   f"copydesk-dialog.{RELEASE}.js.br"])
def test_unknown_widget_files_are_404(client, asked):
    assert fetch(client, f"/static/{asked}").status_code == 404


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0, br;q=0", "deflate"])
def test_browser_without_gzip_gets_the_plain_file(client, accept):
    response = fetch(client, accept=accept)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.vary
    assert cache_control(response) == CACHE_CONTROL
    assert response.data == (STATIC / "copydesk.js").read_bytes()


@pytest.mark.parametrize(("accept", "encoding"), [("*", "br"), ("gzip, br;q=0", "gzip")])
def test_any_encoding_means_brotli(client, accept, encoding):
    response = fetch(client, accept=accept)
    assert response.headers["Content-Encoding"] == encoding


@pytest.mark.parametrize("accept", ["gzip", "identity"])
def test_revalidation_with_the_etag_is_a_304(client, accept):
    first = fetch(client, accept=accept)
    again = fetch(client, accept=accept, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert cache_control(again) == CACHE_CONTROL
    assert "Accept-Encoding" in again.vary


def test_brotli_gzip_and_plain_copies_have_different_etags(client):
    # A cache that stored one must never answer 304 for the other.
    gzipped = fetch(client, accept="gzip")
    plain = fetch(client, accept="identity")
    brotli = fetch(client, accept="br")
    assert len({gzipped.headers["ETag"], plain.headers["ETag"], brotli.headers["ETag"]}) == 3
    stale = fetch(client, accept="identity", **{"If-None-Match": gzipped.headers["ETag"]})
    assert stale.status_code == 200


def test_etag_comes_from_the_content_not_the_files_date(client):
    before = fetch(client, accept="gzip").headers["ETag"]
    gzipped = STATIC / "copydesk.js.gz"
    stat = gzipped.stat()
    try:
        # Another app server's checkout: same bytes, another date.
        os.utime(gzipped, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        after = fetch(client, accept="gzip").headers["ETag"]
    finally:
        os.utime(gzipped, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert after == before


@pytest.mark.parametrize("name", ["copydesk.js", DIALOG])
def test_head_answers_the_headers_without_a_body(client, name):
    response = fetch(client, f"/static/{name}", "gzip", method="HEAD")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == (STATIC / f"{name}.gz").stat().st_size
    assert cache_control(response) == (CACHE_CONTROL if name == "copydesk.js" else IMMUTABLE)


@with_settings(WIDGET_CACHE_SECONDS=60)
def test_lifetime_is_a_setting(client):
    response = fetch(client)
    assert cache_control(response) == {"public", "max-age=60", "stale-while-revalidate=86400"}


@with_settings(WIDGET_CACHE_SECONDS=0)
def test_lifetime_zero_asks_the_desk_every_time(client):
    response = fetch(client)
    assert {"public", "no-cache"} <= cache_control(response)
    assert not any(part.startswith("stale-while-revalidate") for part in cache_control(response))


@pytest.mark.parametrize("value", ["an hour", -1, 1.5, True])
def test_a_bad_lifetime_setting_stops_the_app_from_starting(app_config, value):
    from copydesk import create_app
    with pytest.raises(SettingError, match="COPYDESK_WIDGET_CACHE_SECONDS"):
        create_app({**app_config, "WIDGET_CACHE_SECONDS": value})


@pytest.mark.parametrize("path", ["/static/copydesk.js", f"/static/{DIALOG}", f"/static/copydesk-ru.{RELEASE}.json",
                                  "/static/copydesk-dialog.js", "/api/v1/openapi.json"])
def test_readers_requests_never_touch_an_editors_session(client, auth, make_editor, path):
    # An editor reading an article on the same browser must not make the widget uncacheable.
    make_editor()
    auth.login()
    with client.get(path) as response:
        assert response.status_code == 200
    assert "Cookie" not in response.vary
    assert "Set-Cookie" not in response.headers
    assert "Content-Security-Policy" not in response.headers


def test_other_static_files_keep_flasks_default(client):
    response = fetch(client, "/static/dashboard.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(("lang", "hint", "title"), [
    ("en", "If you find an error, please select a piece of text and press Ctrl + Enter", "Report an error"),
    ("uk", "Якщо ви знайшли помилку, виділіть фрагмент тексту й натисніть Ctrl + Enter", "Повідомити про помилку"),
])
def test_second_article_view_does_not_ask_the_desk_at_all(new_context, pages, live_server, lang, hint, title):  # noqa: F811
    """Within the loader's lifetime the browser runs its own copies: no request at all, not even a 304;
    a reader who opens the dialog again costs the desk only the site's settings."""
    served = []

    def record(sender, response, **extra):
        served.append((request.path, response.status_code, response.headers.get("Content-Encoding")))

    body = '<article><p>Some words to select.</p><p data-copydesk-hint></p></article>'
    first = pages.article("/first.html", body, html_attrs=f'lang="{lang}"')
    second = pages.article("/second.html", body, html_attrs=f'lang="{lang}"')
    page = new_context().new_page()
    with request_finished.connected_to(record, live_server.app):
        page.goto(first)
        expect(page.locator("[data-copydesk-hint]")).to_have_text(hint)
        select_text(page, "words")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_role("dialog")).to_have_accessible_name(title)
        page.keyboard.press("Escape")
        first_view, served[:] = list(served), []

        page.goto(second)
        page.wait_for_load_state("networkidle")
        # The hint is filled by the widget, so it ran from the browser's copy.
        expect(page.locator("[data-copydesk-hint]")).to_have_text(hint)
        assert served == []

        select_text(page, "words")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_role("dialog")).to_have_accessible_name(title)
    assert served == [(f"/api/v1/sites/{pages.site_key}/widget-config", 200, None)]
    texts = [] if lang == "en" else [f"/static/copydesk-dialog-{lang}.{RELEASE}.json"]
    assert sorted(path for path, _, _ in first_view) == sorted([
        "/static/copydesk.js", f"/static/copydesk-{lang}.{RELEASE}.json", f"/static/{DIALOG}",
        f"/api/v1/sites/{pages.site_key}/widget-config", *texts])
    # Chromium takes brotli from a trustworthy origin (https, or 127.0.0.1 here), else gzip.
    assert {encoding for path, _, encoding in first_view if path.startswith("/static/")} <= {"br", "gzip"}


def test_a_loader_cached_from_the_release_before_opens_todays_dialog(page, pages, live_server):  # noqa: F811
    """tests/widget_pages/previous-loader.js is the loader of the release before content-hashed names:
    it asks for copydesk-dialog.js next to itself, and gets today's dialog (as the desk answers)."""
    with live_server.app.test_client() as client:
        todays = fetch(client, "/static/copydesk-dialog.js", "identity").get_data(as_text=True)
    pages.add("/old/copydesk.js", (Path(__file__).parent / "widget_pages" / "previous-loader.js").read_text())
    pages.add("/old/copydesk-dialog.js", todays)
    url = pages.add("/old.html", f"""<!doctype html><html lang="en"><head><title>Cached</title>
        <script src="/old/copydesk.js" data-site="{{{{site}}}}" data-endpoint="{live_server.url}" defer></script>
        </head><body><article><p>An older loader still works.</p><p data-copydesk-hint></p></article></body></html>""")
    page.goto(url)
    expect(page.locator("[data-copydesk-hint]")).to_have_text(
        "If you find an error, please select a piece of text and press Ctrl + Enter")
    select_text(page, "older loader")
    page.keyboard.press("Control+Enter")
    dialog = page.get_by_role("dialog", name="Report an error")
    dialog.get_by_text("Wrong fact").click()
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text("Thank you! Now the editors are aware.")
    from widget_pages.helpers import submissions
    [row] = submissions(live_server.app)
    assert (row.exact, row.suffix) == ("older loader", " still works.")
