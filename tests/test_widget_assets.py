"""How the desk serves the widget's files: every article page loads copydesk.js, so it
comes with a lifetime, a validator for a cheap 304, and gzip when the browser takes it."""

import gzip
import os
from pathlib import Path

import pytest
from flask import request, request_finished
from playwright.sync_api import expect

from conftest import with_settings
from copydesk.config import SettingError
from widget_pages.helpers import pages  # noqa: F401

STATIC = Path(__file__).resolve().parent.parent / "static"
WIDGET_FILES = ["copydesk.js", "copydesk-dialog.js"]
CACHE_CONTROL = {"public", "max-age=3600", "stale-while-revalidate=86400"}


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


@pytest.mark.parametrize("name", WIDGET_FILES)
def test_widget_file_is_served_gzipped_with_a_lifetime_and_a_validator(client, name):
    response = fetch(client, f"/static/{name}", "gzip, deflate, br")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.vary
    assert cache_control(response) == CACHE_CONTROL
    assert response.headers["ETag"]
    assert gzip.decompress(response.data) == (STATIC / name).read_bytes()
    assert int(response.headers["Content-Length"]) == len(response.data) < (STATIC / name).stat().st_size


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br", "deflate"])
def test_browser_without_gzip_gets_the_plain_file(client, accept):
    response = fetch(client, accept=accept)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.vary
    assert cache_control(response) == CACHE_CONTROL
    assert response.data == (STATIC / "copydesk.js").read_bytes()


def test_any_encoding_means_gzip(client):
    response = fetch(client, accept="*")
    assert response.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("accept", ["gzip", "identity"])
def test_revalidation_with_the_etag_is_a_304(client, accept):
    first = fetch(client, accept=accept)
    again = fetch(client, accept=accept, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert cache_control(again) == CACHE_CONTROL
    assert "Accept-Encoding" in again.vary


def test_gzip_and_plain_copies_have_different_etags(client):
    # A cache that stored one must never answer 304 for the other.
    gzipped = fetch(client, accept="gzip")
    plain = fetch(client, accept="identity")
    assert gzipped.headers["ETag"] != plain.headers["ETag"]
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


@pytest.mark.parametrize("name", WIDGET_FILES)
def test_head_answers_the_headers_without_a_body(client, name):
    response = fetch(client, f"/static/{name}", "gzip", method="HEAD")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == (STATIC / f"{name}.gz").stat().st_size
    assert cache_control(response) == CACHE_CONTROL


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


@pytest.mark.parametrize("path", ["/static/copydesk.js", "/static/copydesk-dialog.js",
                                  "/api/v1/openapi.json"])
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


def test_second_article_view_does_not_ask_the_desk_for_the_widget(new_context, pages, live_server):  # noqa: F811
    """Within the lifetime the browser runs its own copy: no request at all, not even a 304."""
    served = []

    def record(sender, response, **extra):
        if request.path.startswith("/static/"):
            served.append((request.path, response.status_code, response.headers.get("Content-Encoding")))

    first = pages.article("/first.html", "<article><p>First article.</p><p data-copydesk-hint></p></article>")
    second = pages.article("/second.html", "<article><p>Second article.</p><p data-copydesk-hint></p></article>")
    page = new_context().new_page()
    with request_finished.connected_to(record, live_server.app):
        page.goto(first)
        expect(page.locator("[data-copydesk-hint]")).not_to_be_empty()
        page.goto(second)
        # The hint is filled by the widget, so it ran from the browser's copy.
        expect(page.locator("[data-copydesk-hint]")).to_have_text(
            "If you find an error, please select a piece of text and press Ctrl + Enter")
    assert served == [("/static/copydesk.js", 200, "gzip")]
