"""Editor accounts: password storage, login throttling, session cookies, session ends,
open redirects through ``next``."""

import re
import statistics
import time
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from conftest import csrf_token, rows, with_settings
from copydesk.db import db
from copydesk.models import Editor, EditorSession, LoginAttempt

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple battery horse correct"


def log_in(client, email="editor@example.com", password=PASSWORD, ip="192.0.2.1", query=""):
    environ = {"REMOTE_ADDR": ip}
    page = client.get("/login", environ_base=environ)
    return client.post("/login" + query, environ_base=environ, data={
        "email": email, "password": password, "csrf_token": csrf_token(page.text)})


def logged_in(client):
    response = client.get("/reports")
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
        return False
    assert response.status_code == 200
    return True


def test_password_is_stored_as_salted_scrypt_hash(app, make_editor):
    make_editor("one@example.com", PASSWORD)
    make_editor("two@example.com", PASSWORD)
    hashes = [row.password_hash for row in rows(app, sa.select(Editor.password_hash))]
    for stored in hashes:
        assert stored.startswith("scrypt:")
        assert PASSWORD not in stored and PASSWORD.encode().hex() not in stored
    assert hashes[0] != hashes[1]  # salted


def test_wrong_password_is_refused(client, make_editor):
    make_editor()
    response = log_in(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert not logged_in(client)
    assert log_in(client).status_code == 302
    assert logged_in(client)


def test_login_answers_unknown_email_as_slowly_as_wrong_password(client, make_editor):
    make_editor()
    log_in(client, "nobody@example.com", "warm-up")  # the decoy hash is made once

    def timed(email):
        # CPU time of this process (the app runs in it): other processes' load does not blur it.
        start = time.process_time()
        assert log_in(client, email, "not the password").status_code == 401
        return time.process_time() - start
    unknown = statistics.median(timed("nobody@example.com") for _ in range(3))
    wrong = statistics.median(timed("editor@example.com") for _ in range(3))
    # Without the decoy check the unknown email answers ~20x faster (no scrypt).
    assert unknown > 0.5 * wrong, (unknown, wrong)


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_password_guessing_on_one_account_from_many_addresses_is_throttled(client, make_editor):
    make_editor()
    make_editor("other@example.com")
    for n in range(3):
        assert log_in(client, password=f"guess {n}", ip=f"198.51.100.{n}").status_code == 401
    # From an address that failed for it, even the right password is refused now:
    # otherwise the throttle would let guesses through.
    for n in range(3):
        throttled = log_in(client, ip=f"198.51.100.{n}")
        assert throttled.status_code == 429
        assert ("Too many login attempts for this account. Please wait 15 minutes and try again."
                in throttled.text)
        assert not logged_in(client)
    # A fresh address gets one guess, then it is locked out of the account too.
    assert log_in(client, password="guess 3", ip="198.51.100.3").status_code == 401
    assert log_in(client, ip="198.51.100.3").status_code == 429
    assert log_in(client, "other@example.com", ip="198.51.100.10").status_code == 302


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_guesser_who_knows_the_email_cannot_lock_the_owner_out(client, auth, make_editor):
    make_editor()
    for n in range(20):
        log_in(client, password=f"guess {n}", ip=f"203.0.113.{n % 4}")
    # The owner, at an address that has not failed for the account, logs in at once.
    assert log_in(client, ip="192.0.2.50").status_code == 302
    assert logged_in(client)
    auth.logout()
    # The guesser's addresses stay locked out of the account.
    assert log_in(client, ip="203.0.113.1").status_code == 429


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_fresh_address_for_the_account_is_still_held_to_its_own_limit(client, make_editor):
    make_editor()
    for n in range(3):
        assert log_in(client, f"someone{n}@example.com", ip="192.0.2.60").status_code == 401
    throttled = log_in(client, ip="192.0.2.60")
    assert throttled.status_code == 429
    assert "Too many login attempts from your address." in throttled.text


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_addresses_of_one_ipv6_network_share_one_login_limit(client, make_editor):
    make_editor()
    for n in range(3):
        assert log_in(client, f"nobody{n}@example.com", ip=f"2001:db8:1:2::{n + 1:x}").status_code == 401
    # Another address in the same /64 (a home or phone gets a whole /64) is the same client.
    assert log_in(client, ip="2001:db8:1:2:ffff::9").status_code == 429
    assert log_in(client, ip="2001:db8:1:3::1").status_code == 302


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_password_guessing_from_one_address_is_throttled(client, make_editor):
    make_editor()
    for n in range(3):
        assert log_in(client, f"guess{n}@example.com", ip="198.51.100.1").status_code == 401
    throttled = log_in(client, ip="198.51.100.1")
    assert throttled.status_code == 429
    assert "Too many login attempts from your address. Please wait 15 minutes and try again." in throttled.text
    assert not logged_in(client)
    assert log_in(client, ip="198.51.100.2").status_code == 302


@with_settings(RATELIMIT_LOGIN="2 per 15 minutes")
def test_successful_logins_count_towards_the_throttle_too(client, auth, make_editor):
    make_editor()
    for _ in range(2):
        assert log_in(client).status_code == 302
        auth.logout()
    assert log_in(client).status_code == 429


@with_settings(RATELIMIT_LOGIN="1 per 15 minutes")
def test_throttled_login_is_a_friendly_login_page(client, make_editor):
    make_editor()
    log_in(client, password="guess")
    page = log_in(client, password="another guess")
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert 800 < int(page.headers["Retry-After"]) <= 900
    assert '<p class="flash error" role="alert"><strong>Error:</strong> Too many login attempts' in page.text
    assert '<form method="post">' in page.text and csrf_token(page.text)
    assert 'value="editor@example.com"' in page.text  # what was typed is kept
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


# --- The session cookie -----------------------------------------------------------------

def session_cookie(response):
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}, cookie


@pytest.mark.parametrize("settings, base_url, headers, secure, https", [
    ({}, "http://localhost", {}, False, False),
    ({}, "https://desk.example.com", {}, True, True),
    ({"TRUSTED_PROXIES": 1}, "http://localhost", {"X-Forwarded-Proto": "https"}, True, True),
    ({}, "http://localhost", {"X-Forwarded-Proto": "https"}, False, False),  # spoofed: no proxy trusted
    ({"SESSION_COOKIE_SECURE": True}, "http://localhost", {}, True, False),
], ids=["http", "https", "https-via-trusted-proxy", "spoofed-forwarded-proto", "forced-secure"])
def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(
        client, make_editor, base_url, headers, secure, https):
    make_editor()
    page = client.get("/login", base_url=base_url, headers=headers)
    # As a browser sends it (Referrer-Policy: same-origin); Flask-WTF checks it over HTTPS.
    public_url = base_url.replace("http:", headers.get("X-Forwarded-Proto", "http") + ":", 1)
    headers = {**headers, "Referer": public_url + "/login"}
    response = client.post("/login", base_url=base_url, headers=headers, data={
        "email": "editor@example.com", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    for answer in (page, response):
        attributes, cookie = session_cookie(answer)
        assert "httponly" in attributes, cookie
        assert "samesite=lax" in cookie.lower().replace(" ", ""), cookie
        assert ("secure" in attributes) is secure, cookie
    assert ("Strict-Transport-Security" in response.headers) is https


def test_cross_site_login_post_over_https_without_referer_is_refused(client, make_editor):
    make_editor()
    base_url = "https://desk.example.com"
    token = csrf_token(client.get("/login", base_url=base_url).text)
    data = {"email": "editor@example.com", "password": PASSWORD, "csrf_token": token}
    missing = client.post("/login", base_url=base_url, data=data)
    assert missing.status_code == 400 and "The referrer header is missing." in missing.text
    foreign = client.post("/login", base_url=base_url, data=data, headers={"Referer": "https://evil.example/"})
    assert foreign.status_code == 400 and "The referrer does not match the host." in foreign.text
    assert client.post("/login", base_url=base_url, data=data,
                       headers={"Referer": base_url + "/login"}).status_code == 302


# --- Sessions end -----------------------------------------------------------------------

def change_password(client, current=PASSWORD, new=NEW_PASSWORD):
    page = client.get("/account")
    return client.post("/account", data={
        "current_password": current, "new_password": new, "csrf_token": csrf_token(page.text)})


def test_password_change_logs_out_the_editors_other_sessions(app, make_editor):
    make_editor()
    laptop, phone = app.test_client(), app.test_client()
    assert log_in(laptop).status_code == 302 and log_in(phone).status_code == 302
    stolen_cookie = phone.get_cookie("session").value
    changed = change_password(laptop)
    assert changed.status_code == 302
    assert "Password changed." in laptop.get(changed.headers["Location"]).text
    assert logged_in(laptop)
    assert not logged_in(phone)
    thief = app.test_client()
    thief.set_cookie("session", stolen_cookie)
    assert not logged_in(thief)
    assert log_in(phone).status_code == 401
    assert log_in(phone, password=NEW_PASSWORD).status_code == 302


def test_wrong_current_password_changes_nothing(app, client, make_editor):
    make_editor()
    log_in(client)
    before = rows(app, sa.select(Editor.password_hash, Editor.session_token))
    refused = change_password(client, current="not my password")
    assert refused.status_code == 400
    assert "That is not your current password." in refused.text
    assert rows(app, sa.select(Editor.password_hash, Editor.session_token)) == before
    assert logged_in(client)


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_guessing_the_current_password_on_account_is_throttled_like_login(app, client, make_editor):
    make_editor()
    log_in(client)
    before = rows(app, sa.select(Editor.password_hash))
    for n in range(3):
        assert change_password(client, current=f"guess {n}").status_code == 400
    throttled = change_password(client)  # even the right one, now
    assert throttled.status_code == 429
    assert "Too many login attempts from your address. Please wait 15 minutes and try again." in throttled.text
    assert 800 < int(throttled.headers["Retry-After"]) <= 900
    assert rows(app, sa.select(Editor.password_hash)) == before
    assert logged_in(client)


@with_settings(RATELIMIT_LOGIN="3 per 15 minutes")
def test_login_and_account_guesses_count_together_for_the_account(client, make_editor):
    make_editor()
    assert log_in(client, password="guess at login", ip="198.51.100.1").status_code == 401
    assert log_in(client, ip="192.0.2.1").status_code == 302
    for n in range(2):
        assert change_password(client, current=f"guess {n}").status_code == 400
    throttled = change_password(client)
    assert throttled.status_code == 429
    assert "Too many login attempts for this account." in throttled.text


def test_deactivating_an_editor_ends_their_sessions(app, make_editor):
    editor_id = make_editor()
    make_editor("admin@example.com", role="admin")
    editor, admin = app.test_client(), app.test_client()
    log_in(editor)
    log_in(admin, "admin@example.com")
    stolen_cookie = editor.get_cookie("session").value

    def set_active(value):
        token = csrf_token(admin.get("/editors").text)
        response = admin.post(f"/editors/{editor_id}/active", data={"active": value, "csrf_token": token})
        assert response.status_code == 302

    set_active("0")
    assert not logged_in(editor)
    refused = log_in(editor)
    assert refused.status_code == 401 and "Wrong email or password." in refused.text
    set_active("1")
    thief = app.test_client()
    thief.set_cookie("session", stolen_cookie)
    assert not logged_in(thief)  # reactivation does not bring old sessions back
    assert log_in(editor).status_code == 302


def test_logout_ends_the_session_in_this_browser(client, auth, make_editor):
    make_editor()
    auth.login()
    assert logged_in(client)
    assert auth.logout().status_code == 302
    assert not logged_in(client)


def test_logout_ends_the_session_for_a_copied_cookie_too(app, client, auth, make_editor):
    make_editor()
    auth.login()
    copied_cookie = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied_cookie)
    assert logged_in(thief)
    auth.logout()
    bounced = thief.get("/reports")
    assert bounced.status_code == 302 and urlsplit(bounced.headers["Location"]).path == "/login"
    assert "Log in" in thief.get(bounced.headers["Location"]).text
    assert rows(app, sa.select(EditorSession.token_hash)) == []


def test_logout_ends_only_that_session(app, make_editor):
    make_editor()
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop)
    log_in(phone)
    token = csrf_token(laptop.get("/reports").text)
    laptop.post("/logout", data={"csrf_token": token})
    assert not logged_in(laptop)
    assert logged_in(phone)


def age_sessions(app, **ago):
    """Move every session's ``created_at`` / ``last_seen_at`` this far into the past."""
    with app.app_context():
        for row in db.session.scalars(sa.select(EditorSession)):
            for field, delta in ago.items():
                setattr(row, field, getattr(row, field) - delta)
        db.session.commit()


@with_settings(SESSION_IDLE_MINUTES=30)
def test_session_ends_after_idle_timeout(app, client, make_editor):
    make_editor()
    log_in(client)
    age_sessions(app, last_seen_at=timedelta(minutes=29), created_at=timedelta(minutes=29))
    assert logged_in(client)  # used just in time: the idle clock starts again
    age_sessions(app, last_seen_at=timedelta(minutes=29), created_at=timedelta(minutes=29))
    assert logged_in(client)
    age_sessions(app, last_seen_at=timedelta(minutes=31))
    assert not logged_in(client)
    # Ended sessions are deleted at the next login, anyone's.
    assert log_in(app.test_client()).status_code == 302
    assert len(rows(app, sa.select(EditorSession.token_hash))) == 1


@with_settings(SESSION_LIFETIME_HOURS=12)
def test_session_ends_after_its_lifetime_however_active(app, client, make_editor):
    make_editor()
    log_in(client)
    age_sessions(app, created_at=timedelta(hours=11, minutes=59))
    assert logged_in(client)
    age_sessions(app, created_at=timedelta(minutes=2))
    assert not logged_in(client)
    assert log_in(client).status_code == 302 and logged_in(client)


def test_session_cookie_older_than_the_session_lifetime_is_not_even_read(client, make_editor, monkeypatch):
    make_editor()
    log_in(client)
    assert logged_in(client)
    # Only the cookie's signature ages here (the session row's clock is datetime's).
    a_day_later = time.time() + 24 * 3600 + 60
    monkeypatch.setattr(time, "time", lambda: a_day_later)
    assert not logged_in(client)


def test_login_renews_the_csrf_token(client, make_editor):
    make_editor()
    page = client.get("/login")
    before_login = csrf_token(page.text)
    client.post("/login", data={"email": "editor@example.com", "password": PASSWORD, "csrf_token": before_login})
    assert logged_in(client)
    # A token an attacker planted or read before login is worthless after it.
    assert csrf_token(client.get("/reports").text) != before_login
    refused = client.post("/logout", data={"csrf_token": before_login})
    assert refused.status_code == 400
    assert logged_in(client)


def test_a_session_from_before_login_carries_nothing_over(client, make_editor):
    make_editor()
    with client.session_transaction() as session:
        session["planted"] = "by a fixation attack"
    log_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session


# --- No open redirect through ?next= ----------------------------------------------------

@pytest.mark.parametrize("raw_next", [
    "//evil.com", "https://evil.com", "http://evil.com/reports", "/\\evil.com", "\\\\evil.com",
    "/\\/evil.com", "javascript:alert(1)", "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>", "%2F%2Fevil.com", "%252F%252Fevil.com",
    "/%5Cevil.com", "%5C%5Cevil.com", "///evil.com", "////evil.com", "https:evil.com",
    "http:/evil.com", "%09//evil.com", "/%09/evil.com", "/%0A/evil.com", "/%0D/evil.com",
    " //evil.com", "%20//evil.com", "evil.com", "@evil.com", "//evil.com@localhost",
    "/reports%0D%0ASet-Cookie:%20session=evil", "/reports%00",
])
def test_login_next_parameter_is_no_open_redirect(client, make_editor, raw_next):
    make_editor()
    response = log_in(client, query="?next=" + raw_next)
    assert response.status_code == 302
    assert response.headers["Location"] == "/reports"


@pytest.mark.parametrize("target", ["/reports?status=closed", "/reports/1", "/account"])
def test_login_next_parameter_keeps_same_site_paths(client, make_editor, target):
    make_editor()
    response = log_in(client, query="?next=" + quote(target, safe=""))
    assert response.headers["Location"] == target


def test_login_required_page_comes_back_after_login(client, make_editor):
    make_editor()
    bounced = client.get("/account")
    assert bounced.status_code == 302
    login_url = bounced.headers["Location"]
    assert re.fullmatch(r"/login\?next=%2Faccount", login_url)
    response = log_in(client, query=login_url.removeprefix("/login"))
    assert response.headers["Location"] == "/account"


# --- Throttling is exact across processes and servers -------------------------------------

@with_settings(RATELIMIT_LOGIN="4 per 15 minutes")
def test_login_throttle_is_shared_by_app_servers_on_one_database(app, app_config, make_editor):
    from copydesk import create_app
    make_editor()
    other_server = create_app(app_config)
    try:
        clients = [app.test_client(), other_server.test_client()]
        answers = [log_in(clients[n % 2], password=f"guess {n}").status_code for n in range(8)]
        # Per-process counters would let 4 guesses through on each server.
        assert answers == [401] * 4 + [429] * 4
        assert log_in(clients[1]).status_code == 429
    finally:
        with other_server.app_context():
            db.engine.dispose()
    assert {row.outcome for row in rows(app, sa.select(LoginAttempt.outcome))} == {"failed", "refused"}


@pytest.mark.slow
def test_concurrent_guesses_at_two_serve_processes_never_pass_the_login_limit(app, serve, database_url, make_editor):
    from concurrent.futures import ThreadPoolExecutor

    import requests
    make_editor()
    limit = {"COPYDESK_RATELIMIT_LOGIN": "10 per 15 minutes"}
    servers = [serve(database_url, workers=2, env=limit), serve(database_url, workers=2, env=limit)]

    def guess(n):
        with requests.Session() as browser:
            url = servers[n % 2].url + "/login"
            token = csrf_token(browser.get(url, timeout=30).text)
            return browser.post(url, data={"email": "editor@example.com", "password": f"guess {n}",
                                           "csrf_token": token}, allow_redirects=False, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        burst = list(pool.map(guess, range(40)))
    assert set(burst) == {401, 429}
    assert burst.count(401) <= 10, burst
    # Attempts refused in the race do not use up the budget: exactly 10 wrong passwords in all.
    after = [guess(n) for n in range(40, 40 + 11 - burst.count(401))]
    assert burst.count(401) + after.count(401) == 10, (burst, after)
    assert after[-1] == 429


@pytest.mark.parametrize("email, password", [
    ("editor@example.com\x00", PASSWORD), ("a\x00b", "x"),
    ("e" * 300 + "@example.com", PASSWORD), ("editor@example.com", "p" * 5000 + "\x00"),
])
def test_login_with_nul_or_over_long_values_is_a_wrong_password_not_a_500(app, client, make_editor,
                                                                         email, password):
    make_editor()
    response = log_in(client, email=email, password=password)
    assert response.status_code == 401 and "Wrong email or password." in response.text
    assert rows(app, sa.select(LoginAttempt.outcome)) == [("failed",)]


def test_password_change_after_a_logout_in_another_tab_is_no_500(app, client, make_editor, monkeypatch):
    from copydesk import auth as auth_module
    make_editor()
    log_in(client)
    checked = auth_module.checked_password

    def logged_out_meanwhile(email, password):
        editor = checked(email, password)
        db.session.execute(sa.delete(EditorSession))  # the other tab's logout
        return editor

    monkeypatch.setattr(auth_module, "checked_password", logged_out_meanwhile)
    assert change_password(client).status_code == 302
    assert not logged_in(client)
    assert rows(app, sa.select(EditorSession)) == []
    monkeypatch.undo()
    assert log_in(client, password=NEW_PASSWORD).status_code == 302


def test_current_user_stays_usable_after_a_password_change(app, client, make_editor):
    from flask import request
    from flask_login import current_user
    seen = []

    @app.after_request
    def note_current_user(response):
        if request.endpoint == "dashboard.account" and request.method == "POST":
            seen.append(current_user.email)
        return response

    make_editor()
    log_in(client)
    assert change_password(client).status_code == 302
    assert seen == ["editor@example.com"]
