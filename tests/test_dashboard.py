"""The editors' dashboard: list, filters, pagination, detail and triage actions."""

import html
import re

import pytest
import sqlalchemy as sa

from conftest import csrf_token, rows
from copydesk.db import db
from copydesk.models import Editor, Event, Report, Site
from test_api import ORIGIN, post, report_body


@pytest.fixture
def site_key(make_site):
    return make_site(origins=[ORIGIN])


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
    assert mine


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
    assert "Closed." in act(client, rid, action="close", resolution="fixed", expected_status="confirmed").text
    with app.app_context():
        report = db.session.get(Report, rid)
        assert (report.status, report.resolution, report.group_key) == ("closed", "fixed", None)
    assert "Reopened." in act(client, rid, action="reopen").text
    page = act(client, rid, action="note", note="Asked the author <b>first</b>.")
    assert "Asked the author &lt;b&gt;first&lt;/b&gt;." in page.text
    events = rows(app, sa.select(Event.kind, Event.from_value, Event.to_value).order_by(Event.id))
    assert events == [("status", "new", "confirmed"), ("status", "confirmed", "closed"),
                      ("resolution", None, "fixed"), ("status", "closed", "new"),
                      ("resolution", "fixed", None), ("note", None, None)]
    assert page.text.count("Eddie Tor") >= 6
    with app.app_context():
        report = db.session.get(Report, rid)
        assert (report.status, report.resolution, report.group_key) == ("new", None, report.anchor_key)


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


def test_admin_adds_editor_who_can_log_in(client, app, auth, make_editor):
    make_editor(role="admin")
    auth.login()
    page = client.post("/editors", data={"csrf_token": auth.token("/editors"), "email": "New@Example.com",
                                         "name": "New One", "role": "editor"}, follow_redirects=True)
    password = re.search(r"first password is: (\S+)", page.text).group(1)
    auth.logout()
    assert auth.login("new@example.com", password).status_code == 302


def test_password_change(client, auth, make_editor):
    make_editor()
    auth.login()
    wrong = client.post("/account", data={"csrf_token": auth.token("/account"), "current_password": "nope",
                                          "new_password": "a new long password"})
    assert wrong.status_code == 400 and "not your current password" in wrong.text
    short = client.post("/account", data={"csrf_token": auth.token("/account"),
                                          "current_password": "correct horse battery", "new_password": "short"})
    assert short.status_code == 400 and "12 to 200 characters" in short.text
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
