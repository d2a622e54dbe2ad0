"""Security headers on every dashboard and auth page, and a CSP that a real browser
enforces without breaking a page."""

import re

import pytest

from conftest import csrf_token
from copydesk.security import DASHBOARD_CSP
from test_dashboard_access import ROUTES, password_hash, route_url, sign_in, world  # noqa: F401 (fixtures)

# Routes that answer a file to download, not a page: the same headers, no HTML to inspect.
FILES = {"dashboard.reports_export_csv", "dashboard.reports_export_jsonl"}
GET_PAGES = [endpoint for endpoint, method in ROUTES if method == "GET" and endpoint not in FILES]
INLINE_CODE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "an inline <style>"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def assert_dashboard_headers(response):
    headers = response.headers
    assert headers["Content-Security-Policy"] == DASHBOARD_CSP
    directives = dict(d.strip().split(" ", 1) for d in DASHBOARD_CSP.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe" not in DASHBOARD_CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def assert_no_inline_code(html):
    for pattern, what in INLINE_CODE:
        match = pattern.search(html)
        assert not match, f"{what} the CSP would block: {html[max(0, match.start() - 80):match.end() + 80]}"


@pytest.mark.parametrize("endpoint", GET_PAGES)
def test_every_dashboard_page_has_strict_csp_and_no_inline_code(app, client, world, endpoint):
    sign_in(client, "admin")
    response = client.get(route_url(app, endpoint, world), follow_redirects=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert_dashboard_headers(response)
    assert_no_inline_code(response.text)


@pytest.mark.parametrize("endpoint", sorted(FILES))
def test_every_download_has_the_dashboards_headers(app, client, world, endpoint):
    sign_in(client, "admin")
    response = client.get(route_url(app, endpoint, world))
    assert response.status_code == 200 and response.mimetype != "text/html"
    assert_dashboard_headers(response)


def test_login_page_has_strict_csp(client):
    response = client.get("/login")
    assert_dashboard_headers(response)
    assert_no_inline_code(response.text)


def test_login_redirect_has_strict_csp(client):
    assert_dashboard_headers(client.get("/reports"))


def test_forbidden_page_for_an_editor_has_strict_csp(client, world):
    sign_in(client, "editor")
    response = client.get("/sites")
    assert response.status_code == 403
    assert_dashboard_headers(response)


@pytest.mark.parametrize("path", ["/reports/999999", "/no-such-page", "/sites/999999"])
def test_not_found_pages_have_strict_csp(client, world, path):
    sign_in(client, "admin")
    response = client.get(path)
    assert response.status_code == 404
    assert_dashboard_headers(response)


def test_csrf_error_page_has_strict_csp(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert_dashboard_headers(response)


@pytest.mark.parametrize("settings", [{"RATELIMIT_LOGIN": "1 per hour"}], ids=["settings"])
def test_throttled_login_page_has_strict_csp(client):
    for _ in range(2):
        token = csrf_token(client.get("/login").text)
        response = client.post("/login", data={"email": "a@example.com", "password": "x", "csrf_token": token})
    assert response.status_code == 429
    assert_dashboard_headers(response)


def test_widget_api_has_no_dashboard_csp_but_is_nosniff(client):
    response = client.get("/api/v1/openapi.json")
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_https_pages_ask_for_strict_transport_security(client):
    response = client.get("/login", base_url="https://desk.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.slow
def test_browser_reports_no_csp_violation_on_any_dashboard_page(app, world, live_server, new_context):
    page = new_context().new_page()
    problems = []
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script("document.addEventListener('securitypolicyviolation',"
                         " e => console.log('Content Security Policy violation: ' + e.violatedDirective))")
    page.goto(live_server.url + "/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/reports")
    for endpoint in GET_PAGES:
        response = page.goto(live_server.url + route_url(app, endpoint, world))
        assert response.ok, endpoint
        # The stylesheet loaded under the CSP: its rules apply to the page.
        assert page.evaluate("document.styleSheets.length && document.styleSheets[0].cssRules.length") > 0
    assert problems == []
