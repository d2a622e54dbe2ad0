"""The editors' dashboard: list, filters, pagination, detail and triage actions."""

import html
import re

import pytest
import sqlalchemy as sa

from conftest import AuthActions, csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import Editor, Event, Report, Site, Submission
from test_api import post


@pytest.fixture
def logged_in(auth, make_editor):
    make_editor()
    assert auth.login().status_code == 302
    return auth


def file(client, site_key, n=1, **overrides):
    ids = []
    for i in range(n):
        body = report_body(site_key, idempotency_key=f"k-{i:08d}-{overrides.get('exact', 'x')[:8]}",
                           exact=overrides.pop("exact", None) or f"error number {i}", **overrides)
        ids.append(post(client, body).json["id"])
    return ids


def act(client, report_id, **form):
    page = client.get(f"/reports/{report_id}")
    return client.post(f"/reports/{report_id}/action", data={"csrf_token": csrf_token(page.text), **form},
                       follow_redirects=True)


def test_login_page_and_wrong_password(client, make_editor):
    make_editor()
    page = client.get("/login")
    assert page.status_code == 200 and "Log in" in page.text
    wrong = client.post("/login", data={"email": "editor@example.com", "password": "nope",
                                        "csrf_token": csrf_token(page.text)})
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.text
    assert client.get("/reports").status_code == 302


def test_inactive_editor_cannot_log_in(client, app, auth, make_editor):
    editor_id = make_editor()
    with app.app_context():
        db.session.get(Editor, editor_id).active = False
        db.session.commit()
    assert auth.login().status_code == 401


def test_list_shows_counts_per_status_and_context(client, logged_in, site_key):
    ids = file(client, site_key, 3)
    act(client, ids[0], action="confirm")
    page = client.get("/reports")
    assert page.status_code == 200
    assert re.search(r'data-status="new">2<', page.text)
    assert re.search(r'data-status="confirmed">1<', page.text)
    assert re.search(r'data-status="closed">0<', page.text)
    assert "<mark><bdi>error number 1</bdi></mark>" in page.text
    assert "The Lighthouse Keepers" in page.text


@pytest.mark.parametrize("query, expected", [
    ("status=new", {1, 2}), ("status=confirmed", {0}), ("status=closed", {3}), ("status=all", {0, 1, 2, 3}),
    ("status=open", {0, 1, 2}), ("status=closed&resolution=spam", {3}), ("status=closed&resolution=fixed", set()),
    ("status=all&q=number+2", {2}), ("status=all&q=%25", set()),
])
def test_filters(client, logged_in, site_key, query, expected):
    ids = file(client, site_key, 4)
    act(client, ids[0], action="confirm")
    act(client, ids[3], action="close", resolution="spam")
    page = client.get(f"/reports?{query}")
    shown = {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)}
    assert shown == {ids[i] for i in expected}


@pytest.mark.parametrize("q", ["ошибся", "ОШИБСЯ", "Ошибся", "ОшИбСя", "ÄRGER", "ärger"])
def test_search_ignores_case_in_every_script(client, logged_in, site_key, q):
    [russian, german, _plain] = [
        post(client, report_body(site_key, idempotency_key=f"search-{n:04d}", exact=text)).json["id"]
        for n, text in enumerate(("Я ошибся тут", "viel Ärger hier", "plain words"))]
    page = client.get("/reports", query_string={"status": "all", "q": q})
    shown = {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)}
    assert shown == ({russian} if "ш" in q.lower() else {german})


def test_filter_by_site_and_date(client, app, logged_in, site_key, make_site):
    other = make_site(name="Weekly", origins=["https://weekly.example.com"])
    mine = file(client, site_key, 2)
    theirs = post(client, report_body(other, url="https://weekly.example.com/a", canonical_url=None),
                  origin="https://weekly.example.com").json["id"]
    with app.app_context():
        site_id = db.session.scalar(sa.select(Site.id).where(Site.key == other))
    page = client.get(f"/reports?site={site_id}&status=all")
    assert {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)} == {theirs}
    assert client.get("/reports?status=all&since=2000-01-01&until=2000-01-02").text.count('aria-label="Report #') == 0
    assert client.get("/reports?status=all&since=2000-01-01").text.count('aria-label="Report #') == 3
    with app.app_context():
        daily_id = db.session.scalar(sa.select(Site.id).where(Site.key == site_key))
    page = client.get(f"/reports?site={daily_id}&status=all")
    assert {int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page.text)} == set(mine)


def test_bad_filter_is_a_clear_error(client, logged_in):
    page = client.get("/reports?status=bogus&since=yesterday")
    assert page.status_code == 400
    assert "status" in page.text and "since" in page.text


@pytest.mark.parametrize("sort", ["newest", "most"])
def test_keyset_pagination_walks_every_report_once(client, app, logged_in, site_key, sort):
    app.config["PAGE_SIZE"] = 3
    ids = file(client, site_key, 8)
    with app.app_context():  # distinct counts so "most reported" has an order to keep
        for n, rid in enumerate(ids):
            db.session.get(Report, rid).submission_count = (n % 3) + 1
        db.session.commit()
    seen, url = [], f"/reports?status=all&sort={sort}"
    pages = []
    while url:
        text = client.get(url).text
        page_ids = [int(i) for i in re.findall(r'aria-label="Report #(\d+)"', text)]
        pages.append((url, page_ids))
        seen += page_ids
        nxt = re.search(r'rel="next" href="([^"]+)"', text)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    # "Newer" from the last page leads back to the page before it.
    last_text = client.get(pages[-1][0]).text
    prev = re.search(r'rel="prev" href="([^"]+)"', last_text).group(1).replace("&amp;", "&")
    assert [int(i) for i in re.findall(r'aria-label="Report #(\d+)"', client.get(prev).text)] == pages[-2][1]


def test_detail_shows_selection_in_context_and_submissions(client, logged_in, site_key):
    [rid] = file(client, site_key, 1, exact="principle keeper")
    post(client, report_body(site_key, idempotency_key="second-reader", comment="Principal, surely",
                             suggestion="principal keeper"))
    page = client.get(f"/reports/{rid}")
    assert page.status_code == 200
    assert ("…<bdi>Each keeper stood a four-hour watch. The </bdi><mark><bdi>principle keeper</bdi></mark>"
            "<bdi> kept the accounts</bdi>…") in page.text
    assert "Principal, surely" in page.text and "principal keeper" in page.text
    assert 'href="https://daily.example.com/2026/11/lighthouse?utm=x#top"' in page.text
    assert "2 times" in page.text


def test_confirm_close_reopen_and_note_are_audited(client, app, logged_in, site_key):
    [rid] = file(client, site_key, 1)
    assert "Confirmed." in act(client, rid, action="confirm", expected_status="new").text
    assert "Closed as fixed." in act(client, rid, action="close", resolution="fixed", expected_status="confirmed").text
    with app.app_context():
        report = db.session.get(Report, rid)
        assert (report.status, report.resolution, report.group_key) == ("closed", "fixed", None)
    assert "Reopened." in act(client, rid, action="reopen").text
    page = act(client, rid, action="note", note="Asked the author <b>first</b>.")
    assert "Asked the author &lt;b&gt;first&lt;/b&gt;." in page.text
    events = rows(app, sa.select(Event.kind, Event.from_value, Event.to_value).order_by(Event.id))
    assert events == [("status", "new", "confirmed"), ("status", "confirmed", "closed"),
                      ("resolution", None, "fixed"), ("status", "closed", "confirmed"),
                      ("resolution", "fixed", None), ("note", None, None)]
    assert page.text.count("Eddie Tor") >= 6
    with app.app_context():
        report = db.session.get(Report, rid)
        # Reopened to the status it had before it was closed, gathering repeats again.
        assert (report.status, report.resolution, report.group_key) == ("confirmed", None, report.anchor_key)


def test_reopen_of_a_new_report_returns_it_to_new(client, app, logged_in, site_key):
    [rid] = file(client, site_key, 1)
    act(client, rid, action="close", resolution="not_an_error")
    assert "Reopened." in act(client, rid, action="reopen").text
    assert rows(app, sa.select(Report.status, Report.resolution, Report.group_key == Report.anchor_key)) == [
        ("new", None, True)]


def test_reopen_while_a_new_sighting_is_filed_keeps_both(client, app, logged_in, site_key):
    """A reader sends the same error again at the last moment before reopen writes its group
    key: the newer report keeps gathering repeats and the reopen still succeeds."""
    [rid] = file(client, site_key, 1)
    act(client, rid, action="close", resolution="fixed")
    token = csrf_token(client.get(f"/reports/{rid}").text)
    sighting = {}

    def file_a_sighting_first(session, _context, _instances):
        # The last moment is just before the reopen's first write: after it, the sighting must
        # wait for the reopen's commit (SQLite's write lock; on PostgreSQL the stats rollup row
        # the reopen's status change updated), which this thread would never reach.
        if sighting:
            return
        sighting["response"] = None  # the sighting's own flush must not file another
        with app.app_context():  # its own database session, as another request has
            sighting["response"] = post(app.test_client(), report_body(
                site_key, idempotency_key="seen-again-01", exact="error number 0"))

    sa.event.listen(db.session, "before_flush", file_a_sighting_first)
    try:
        page = client.post(f"/reports/{rid}/action", data={"csrf_token": token, "action": "reopen"},
                           follow_redirects=True)
    finally:
        sa.event.remove(db.session, "before_flush", file_a_sighting_first)
    assert sighting["response"].status_code == 201
    newer = sighting["response"].json["id"]
    assert page.status_code == 200 and "Reopened." in page.text
    assert rows(app, sa.select(Report.id, Report.status, Report.group_key.is_not(None),
                               Report.previous_report_id).order_by(Report.id)) == [
        (rid, "new", False, None), (newer, "new", True, rid)]


@pytest.mark.parametrize("form, message", [
    ({"action": "close"}, "Choose a resolution."),
    ({"action": "close", "resolution": "maybe"}, "Must be one of"),
    ({"action": "explode"}, "Must be one of"),
    ({"action": "note"}, "Write a note."),
    ({"action": "reopen"}, "Only a closed report can be reopened."),
    ({"action": "confirm", "expected_status": "closed"}, "Someone changed this report"),
])
def test_invalid_actions_explain_and_change_nothing(client, app, logged_in, site_key, form, message):
    [rid] = file(client, site_key, 1)
    page = act(client, rid, **form)
    assert message in page.text
    assert rows(app, sa.select(Report.status)) == [("new",)]
    assert rows(app, sa.select(Event)) == []


def test_missing_report_is_404(client, logged_in):
    assert client.get("/reports/999").status_code == 404


def test_admin_adds_site_and_sees_snippet(client, app, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    token = auth.token("/sites")
    bad = client.post("/sites", data={"csrf_token": token, "name": "Bad", "origins": "news.example.com/path"})
    assert bad.status_code == 400 and "is not an origin" in bad.text
    good = client.post("/sites", data={"csrf_token": token, "name": "Herald",
                                       "origins": "https://Herald.example.com\nhttps://www.herald.example.com"},
                       follow_redirects=True)
    assert good.status_code == 200
    key = rows(app, sa.select(Site.key).where(Site.name == "Herald"))[0][0]
    assert f'/static/copydesk.js" data-site="{key}" defer></script>' in html.unescape(good.text)
    [(origins,)] = rows(app, sa.select(Site.allowed_origins_json).where(Site.name == "Herald"))
    assert origins == '["https://herald.example.com", "https://www.herald.example.com"]'


def shown_password(page):
    return re.search(r'<code class="password">([^<]+)</code>', page.text).group(1)


def session_cookie(app, client):
    """What the session cookie carries, as the server signed it."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_admin_adds_editor_who_can_log_in(client, app, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    page = client.post("/editors", data={"csrf_token": auth.token("/editors"), "email": "New@Example.com",
                                         "name": "New One", "role": "editor"})
    assert page.status_code == 201 and "It is shown only this once." in page.text
    password = shown_password(page)
    # Shown in this response only: never in the session cookie, never again on the page.
    assert password not in str(session_cookie(app, client))
    assert password not in client.get("/editors").text
    auth.logout()
    assert auth.login("new@example.com", password).status_code == 302


def test_admin_resets_a_password_which_ends_the_editors_sessions(client, app, auth, make_editor):
    make_editor(role="admin")
    editor_id = make_editor("reporter@example.com")
    other = app.test_client()
    AuthActions(other).login("reporter@example.com")
    assert other.get("/reports").status_code == 200
    auth.login()
    page = client.post(f"/editors/{editor_id}/password", data={"csrf_token": auth.token("/editors")})
    assert page.status_code == 200 and "reporter@example.com" in page.text
    password = shown_password(page)
    assert password not in str(session_cookie(app, client))
    assert other.get("/reports").status_code == 302
    assert AuthActions(app.test_client()).login("reporter@example.com").status_code == 401
    assert AuthActions(app.test_client()).login("reporter@example.com", password).status_code == 302


def test_admin_changes_a_role_but_never_removes_the_last_admin(client, app, auth, make_editor):
    me = make_editor("boss@example.com", role="admin")
    other = make_editor("deputy@example.com", role="admin")
    auth.login("boss@example.com")
    page = client.post(f"/editors/{other}/role", data={"csrf_token": auth.token("/editors"), "role": "editor"},
                       follow_redirects=True)
    assert "deputy@example.com is now an editor." in page.text
    page = client.post(f"/editors/{me}/role", data={"csrf_token": auth.token("/editors"), "role": "editor"},
                       follow_redirects=True)
    assert "Cannot demote boss@example.com: the desk needs at least one active admin." in page.text
    page = client.post(f"/editors/{other}/role", data={"csrf_token": auth.token("/editors"), "role": "chief"},
                       follow_redirects=True)
    assert "A role is one of: admin, editor." in page.text
    assert rows(app, sa.select(Editor.email, Editor.role).order_by(Editor.id)) == [
        ("boss@example.com", "admin"), ("deputy@example.com", "editor")]


def test_editor_methods_keep_an_active_admin(app, make_editor):
    from copydesk.models import Refused
    admin_id, editor_id = make_editor("boss@example.com", role="admin"), make_editor("copy@example.com")
    with app.app_context():
        admin, editor = db.session.get(Editor, admin_id), db.session.get(Editor, editor_id)
        assert Editor.find(" Boss@Example.com ") is admin and Editor.find("nobody@example.com") is None
        for change in (lambda: admin.set_active(False), lambda: admin.set_role("editor")):
            with pytest.raises(Refused, match="at least one active admin"):
                change()
        token = editor.session_token
        editor.set_active(False)
        assert (editor.active, editor.session_token != token) == (False, True)
        editor.set_role("admin")  # an inactive admin does not count as the one that stays
        with pytest.raises(Refused):
            admin.set_active(False)
        editor.set_active(True)
        admin.set_active(False)
        assert (admin.active, editor.active, editor.role) == (False, True, "admin")


def test_admin_removes_a_site_after_seeing_how_many_reports_go(client, app, auth, make_editor, site_key, make_site):
    make_editor(role="admin")
    file(client, site_key, 2)
    other = make_site(name="Weekly", origins=["https://weekly.example.com"])
    kept = post(client, report_body(other, url="https://weekly.example.com/a", canonical_url=None),
                origin="https://weekly.example.com").json["id"]
    auth.login()
    post(client, report_body(site_key, idempotency_key="repeat-0001", exact="error number 0"))
    act(client, 1, action="note", note="Checked.")
    [(site_id,)] = rows(app, sa.select(Site.id).where(Site.key == site_key))
    page = client.get(f"/sites/{site_id}/remove")
    assert page.status_code == 200 and "Its 2 reports" in page.text
    assert rows(app, sa.select(Site.id).where(Site.key == site_key)) == [(site_id,)]
    page = client.post(f"/sites/{site_id}/remove", data={"csrf_token": csrf_token(page.text)},
                       follow_redirects=True)
    assert "Site “Daily” removed with its 2 reports." in page.text
    assert rows(app, sa.select(Site.name)) == [("Weekly",)]
    assert rows(app, sa.select(Report.id)) == [(kept,)]
    assert rows(app, sa.select(Submission.report_id)) == [(kept,)]
    assert rows(app, sa.select(Event.id)) == []


def test_site_find_by_key_or_name_in_any_case(app, site_key):
    with app.app_context():
        assert Site.find(site_key).name == "Daily"
        assert Site.find("DAILY") is Site.find("daily") is Site.find(site_key)
        assert Site.find("Weekly") is None


@pytest.mark.parametrize("name", ["Daily", "daily", " DAILY ", "DaiLy"])
def test_duplicate_site_name_is_a_form_error(client, app, auth, make_editor, site_key, name):
    make_editor(role="admin")
    auth.login()
    page = client.post("/sites", data={"csrf_token": auth.token("/sites"), "name": name,
                                       "origins": "https://other.example.com"})
    assert page.status_code == 400 and "A site named" in page.text and "exists already." in page.text
    assert rows(app, sa.select(sa.func.count()).select_from(Site)) == [(1,)]


def test_renaming_a_site_to_another_sites_name_is_refused(client, app, auth, make_editor, site_key, make_site):
    make_editor(role="admin")
    make_site(name="Газета", origins=["https://gazeta.example.com"])
    auth.login()
    [(site_id,)] = rows(app, sa.select(Site.id).where(Site.key == site_key))
    form = {"csrf_token": auth.token("/sites"), "origins": "https://daily.example.com"}
    assert client.post(f"/sites/{site_id}", data={**form, "name": "ГАЗЕТА"}).status_code == 400
    assert client.post(f"/sites/{site_id}", data={**form, "name": "DAILY"}).status_code == 302
    assert rows(app, sa.select(Site.name).order_by(Site.id)) == [("DAILY",), ("Газета",)]


def test_site_name_saved_by_another_admin_meanwhile_is_a_form_error(client, app, auth, make_editor,
                                                                    monkeypatch):
    make_editor(role="admin")
    auth.login()
    checked = Site.update_from

    def another_admin_saves_first(site, data):
        checked(site, data)
        # Between the check and the commit, another admin's site takes the name.
        with app.app_context(), db.engine.begin() as other:
            other.execute(sa.insert(Site).values(name="Weekly", name_key="weekly", key="other-admins-key",
                                                 allowed_origins_json="[]", language="en", max_selection=300,
                                                 created_at=sa.func.current_timestamp()))

    monkeypatch.setattr(Site, "update_from", another_admin_saves_first)
    response = client.post("/sites", data={"csrf_token": auth.token("/sites"), "name": "Weekly",
                                           "origins": "https://weekly.example.com"})
    assert response.status_code == 400
    assert "A site named “Weekly” exists already." in response.get_data(as_text=True)
    assert rows(app, sa.select(Site.key)) == [("other-admins-key",)]


def test_migration_renames_existing_duplicate_site_names(tmp_path):
    """0004 makes names unique: sites already named alike get a number, oldest first."""
    from flask_migrate import upgrade
    from copydesk import create_app
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}", "TESTING": True,
                      "SECRET_KEY": "a-test-secret-that-is-long-enough-0123456789"})
    with app.app_context():
        upgrade(revision="0003")
        db.session.execute(sa.text(
            "INSERT INTO site (name, key, allowed_origins_json, language, max_selection, notify_emails, "
            "created_at) VALUES (:name, :key, '[]', 'en', 300, '', '2026-01-01')"),
            [{"name": name, "key": f"key-{n}"} for n, name in enumerate(["Daily", "DAILY", "Weekly", "daily"])])
        db.session.commit()
        upgrade()
        assert db.session.execute(sa.select(Site.name, Site.name_key).order_by(Site.id)).all() == [
            ("Daily", "daily"), ("DAILY (2)", "daily (2)"), ("Weekly", "weekly"), ("daily (3)", "daily (3)")]
        db.engine.dispose()


@pytest.mark.parametrize("origin", [
    "https://[::1", "https://a.com:99999", "https://:pw@a.com", "https://user@a.com", "http://*.example.com",
    "https://a.com:0", "https://a..com", "https://a_b.com", "https://a.com:８０", "ftp://a.com",
    "https://a.com/path", "https://a.com?x", "https://ex%41mple.com",
])
def test_site_form_refuses_origins_no_browser_sends(client, app, auth, make_editor, origin):
    make_editor(role="admin")
    auth.login()
    page = client.post("/sites", data={"csrf_token": auth.token("/sites"), "name": "Herald", "origins": origin})
    assert page.status_code == 400 and "is not an origin like https://news.example.com." in page.text
    assert rows(app, sa.select(Site)) == []


@pytest.mark.parametrize("origin, stored", [
    ("https://пример.рф", "https://xn--e1afmkfd.xn--p1ai"), ("https://MÜNCHEN.de", "https://xn--mnchen-3ya.de"),
    ("https://a.com:443", "https://a.com"), ("http://a.com:80/", "http://a.com"),
    ("https://a.com:8443", "https://a.com:8443"), ("http://[::1]:5000", "http://[::1]:5000"),
])
def test_site_form_stores_origins_as_browsers_send_them(client, app, auth, make_editor, origin, stored):
    make_editor(role="admin")
    auth.login()
    page = client.post("/sites", data={"csrf_token": auth.token("/sites"), "name": "Herald", "origins": origin})
    assert page.status_code == 302
    assert rows(app, sa.select(Site.allowed_origins_json)) == [(f'["{stored}"]',)]


def test_password_change(client, auth, make_editor):
    make_editor()
    auth.login()
    wrong = client.post("/account", data={"csrf_token": auth.token("/account"), "current_password": "nope",
                                          "new_password": "a new long password"})
    assert wrong.status_code == 400 and "not your current password" in wrong.text
    short = client.post("/account", data={"csrf_token": auth.token("/account"),
                                          "current_password": "correct horse battery", "new_password": "short"})
    assert short.status_code == 400 and "12 to 200 characters" in short.text
    assert 'minlength="12" maxlength="200"' in client.get("/account").text  # the same rule in the browser
    ok = client.post("/account", data={"csrf_token": auth.token("/account"),
                                       "current_password": "correct horse battery",
                                       "new_password": "a new long password"}, follow_redirects=True)
    assert "Password changed" in ok.text
    assert client.get("/reports").status_code == 200
    auth.logout()
    assert auth.login(password="a new long password").status_code == 302


def test_rtl_override_in_reader_text_is_isolated(client, logged_in, site_key):
    rid = post(client, report_body(site_key, exact="\u202eevil", prefix="before \u202e")).json["id"]
    page = client.get(f"/reports/{rid}").text
    assert "<mark><bdi>\u202eevil</bdi></mark>" in page
    assert "…<bdi>before \u202e</bdi>" in page


def test_editor_added_by_another_admin_meanwhile_is_a_form_error(client, app, auth, make_editor, monkeypatch):
    make_editor(role="admin")
    auth.login()
    token = auth.token("/editors")
    set_password = Editor.set_password

    def another_admin_adds_first(editor, password):
        set_password(editor, password)
        # Between the check and the commit, another admin adds the same email.
        with app.app_context(), db.engine.begin() as other:
            other.execute(sa.insert(Editor).values(
                email="new@example.com", name="", password_hash="x", role="editor", active=True,
                session_token="other-admins", created_at=sa.func.current_timestamp()))

    monkeypatch.setattr(Editor, "set_password", another_admin_adds_first)
    page = client.post("/editors", data={"csrf_token": token, "email": "New@Example.com", "role": "editor"})
    assert page.status_code == 400
    assert "An editor with the email new@example.com exists already." in page.text
    assert rows(app, sa.select(Editor.session_token).where(Editor.email == "new@example.com")) == [
        ("other-admins",)]


@pytest.mark.parametrize("form, field, message", [
    ({"name": "Herald", "language": "en\n"}, "language", "Use a language code such as en or ru."),
    ({"name": " \u00a0 "}, "name", "Give the site a name."),
])
def test_site_form_refuses_a_blank_name_or_a_language_with_a_newline(client, app, auth, make_editor,
                                                                      form, field, message):
    make_editor(role="admin")
    auth.login()
    page = client.post("/sites", data={"csrf_token": auth.token("/sites"), "origins": "https://h.example.com",
                                       **form})
    assert page.status_code == 400 and message in page.text
    assert rows(app, sa.select(Site)) == []


def test_site_name_is_stored_without_edge_spaces(client, app, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    page = client.post("/sites", data={"csrf_token": auth.token("/sites"), "name": "  Herald ",
                                       "origins": "https://h.example.com"})
    assert page.status_code == 302
    assert rows(app, sa.select(Site.name, Site.name_key)) == [("Herald", "herald")]


@pytest.mark.parametrize("public_url, expected", [
    ("https://desk.example.com/", "https://desk.example.com/static/copydesk.js"),
    (None, "http://localhost/static/copydesk.js"),  # no PUBLIC_URL: the address the page was asked at
])
def test_site_page_snippet_uses_the_public_url(client, app, auth, make_editor, site_key, public_url, expected):
    app.config["PUBLIC_URL"] = public_url
    make_editor(role="admin")
    auth.login()
    [(site_id,)] = rows(app, sa.select(Site.id))
    page = client.get(f"/sites/{site_id}")
    assert f'<script src="{expected}" data-site="{site_key}" defer></script>' in html.unescape(page.text)
