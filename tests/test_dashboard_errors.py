"""Errors outside the API are dashboard pages; no query string or path makes a 500."""

import pytest
from flask import abort

from conftest import csrf_token

ERROR_CODES = [400, 403, 404, 405, 429, 500]


@pytest.fixture
def app(app):
    """The app with a route answering any error, and a view that fails, as a bug would."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug answers 500, as in production

    def fail():
        raise RuntimeError("a bug")
    app.add_url_rule("/test-error/<int:code>", "test_error", lambda code: abort(code))
    app.add_url_rule("/test-bug", "test_bug", fail)
    return app


@pytest.fixture
def editor(auth, make_editor):
    make_editor()
    assert auth.login().status_code == 302


@pytest.mark.parametrize("code", ERROR_CODES)
def test_error_page_is_a_dashboard_page_with_navigation(client, editor, code):
    response = client.get(f"/test-error/{code}")
    assert response.status_code == code and response.mimetype == "text/html"
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in response.text
    assert f"Error {code}" in response.text
    assert 'data-status="new"' in response.text and "Log out" in response.text  # the navigation
    assert "Go to the reports" in response.text


@pytest.mark.parametrize("code", ERROR_CODES)
def test_error_page_without_login_offers_the_login(client, code):
    response = client.get(f"/test-error/{code}")
    assert response.status_code == code
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in response.text
    assert 'href="/login">Log in</a>' in response.text and "Log out" not in response.text


def test_a_bug_is_a_500_dashboard_page_that_hides_the_details(client, editor):
    response = client.get("/test-bug")
    assert response.status_code == 500
    assert "Something went wrong on the desk&#39;s side." in response.text and "a bug" not in response.text
    assert "Log out" in response.text


def test_forbidden_page_for_an_editor_on_an_admin_page(client, editor):
    response = client.get("/sites")
    assert response.status_code == 403
    assert "<h1>Forbidden</h1>" in response.text and "An admin can change your role." in response.text
    assert 'data-status="new"' in response.text


def test_method_not_allowed_page_keeps_the_allow_header(client, editor):
    response = client.get("/reports/1/action")
    assert response.status_code == 405 and "POST" in response.headers["Allow"].split(", ")
    assert "<h1>Method Not Allowed</h1>" in response.text


def test_csrf_error_page_says_what_went_wrong(client, editor):
    response = client.post("/reports/1/action", data={"action": "note", "note": "x"})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.text and "Log out" in response.text


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/reports"])
def test_api_errors_stay_json(client, path):
    response = client.get(path)
    assert response.status_code in (404, 405) and response.mimetype == "application/json"
    assert "errors" in response.json


# Each of these was a 500 before (Security 7).
@pytest.mark.parametrize("path, status", [
    ("/reports?site=99999999999999999999999", 400),
    ("/reports?after=99999999999999999999999", 400),
    ("/reports?before=99999999999999999999999", 400),
    ("/reports?after=2147483648", 400),
    ("/reports?sort=most&after=99999999999999999999999:1", 400),
    ("/reports/99999999999999999999999", 404),
    ("/sites/99999999999999999999999", 404),
])
def test_huge_numbers_are_4xx(client, auth, make_editor, path, status):
    make_editor(role="admin")
    auth.login()
    assert client.get(path).status_code == status


@pytest.mark.parametrize("until", ["9999-12-31", "0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_filter_without_error(client, editor, until):
    response = client.get(f"/reports?status=all&since=0001-01-01&until={until}")
    assert response.status_code == 200 and "No reports match these filters." in response.text


@pytest.mark.parametrize("extra", ["endpoint=x", "_external=1", "_anchor=x", "values=1", "_method=POST"])
def test_unknown_query_args_never_reach_url_for(client, editor, make_site, extra):
    from conftest import report_body
    from test_api import post
    key = make_site()
    for n in range(3):
        post(client, report_body(key, idempotency_key=f"pager-{n:06d}", exact=f"error {n}"))
    client.application.config["PAGE_SIZE"] = 1
    response = client.get(f"/reports?after=3&{extra}&status=all")
    assert response.status_code == 200
    assert 'rel="next" href="/reports?after=' in response.text
    assert extra.split("=")[0] + "=" not in response.text.split('class="pager"')[1]


def test_site_form_with_a_broken_ipv6_origin_is_a_400(client, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    page = client.get("/sites")
    response = client.post("/sites", data={"csrf_token": csrf_token(page.text), "name": "Herald",
                                           "origins": "https://[::1"})
    assert response.status_code == 400 and "is not an origin" in response.text
