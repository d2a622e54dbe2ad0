"""Triage from the list: each row's actions, JSON answers for dashboard.js, "next in list"
after acting on a report's page, Mine/Unassigned, and bulk actions with stale-view protection."""

import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import sqlalchemy as sa

from conftest import csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import Editor, Event, Report
from test_api import post

JSON = {"Accept": "application/json"}


@pytest.fixture
def logged_in(auth, make_editor):
    make_editor()
    assert auth.login().status_code == 302
    return auth


OTHER = "https://other.example.com"


def file(client, site_key, n=1, start=0, origin=None):
    """File n reports (oldest first) and return their ids; ``origin``: from another site's pages."""
    pages = {"url": origin + "/x", "canonical_url": None} if origin else {}
    return [post(client, report_body(site_key, idempotency_key=f"triage-{start + i:06d}",
                                     exact=f"error number {start + i}", **pages),
                 **({"origin": origin} if origin else {})).json["id"]
            for i in range(n)]


def token(client, path="/reports"):
    return csrf_token(client.get(path).text)


def act(client, report_id, headers=None, **form):
    return client.post(f"/reports/{report_id}/action", data={"csrf_token": token(client), **form},
                       headers=headers or {})


def shown(page_text):
    return [int(i) for i in re.findall(r'aria-label="Report #(\d+)"', page_text)]


def statuses(app):
    return dict(rows(app, sa.select(Report.id, Report.status)))


def test_each_row_carries_its_actions_and_a_row_action_returns_to_the_list(client, app, logged_in, site_key):
    ids = file(client, site_key, 2)
    page = client.get("/reports?status=open&sort=most")
    for rid in ids:
        assert f'action="/reports/{rid}/action"' in page.text
    assert page.text.count('data-key="f"') == 2 and page.text.count('name="back" value="list"') >= 2
    # The row's own form, as the browser posts it without JavaScript.
    response = act(client, ids[0], action="close", resolution="fixed", expected_status="new",
                   list="status=open&sort=most", back="list")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"status": ["open"], "sort": ["most"]}
    followed = client.get(response.headers["Location"])
    assert "Closed as fixed." in followed.text and shown(followed.text) == [ids[1]]
    assert rows(app, sa.select(Event.report_id, Event.kind, Event.to_value).order_by(Event.id)) == [
        (ids[0], "status", "closed"), (ids[0], "resolution", "fixed")]


def test_action_answers_json_for_the_script_without_a_page_load(client, app, logged_in, site_key):
    first, second = file(client, site_key, 2)
    response = act(client, first, JSON, action="close", resolution="not_an_error", expected_status="new",
                   list="status=open", back="list")
    assert response.status_code == 200 and response.content_type == "application/json"
    assert response.json["report"] == {"id": first, "status": "closed", "resolution": "not_an_error",
                                       "assignee": None}
    assert response.json["message"] == "Closed as not an error."
    assert response.json["in_list"] is False  # gone from the open list: the script removes its row
    # Still matching the list: the row comes back as the list renders it now.
    confirmed = act(client, second, JSON, action="confirm", expected_status="new", list="status=open")
    assert confirmed.json["in_list"] is True
    assert f'data-report-id="{second}" data-status="confirmed"' in confirmed.json["row"]
    assert 'data-key="c"' not in confirmed.json["row"]  # nothing left to confirm
    assert statuses(app) == {first: "closed", second: "confirmed"}


@pytest.mark.parametrize("form, status, error", [
    ({"action": "confirm", "expected_status": "confirmed"}, 409, "Someone changed this report"),
    ({"action": "reopen"}, 422, "Only a closed report can be reopened."),
    ({"action": "close"}, 422, "Choose a resolution."),
    ({"action": "close", "resolution": "duplicate"}, 422, "Give the number of the report"),
    ({"action": "close", "resolution": "fixed", "block_hours": "24"}, 422, "Only a report closed as spam"),
    ({"action": "close", "resolution": "spam", "block_hours": "5"}, 422, "Must be one of"),
    ({"action": "confirm", "list": "status=sideways"}, 422, "Must be one of"),
])
def test_json_refusals_say_why_and_change_nothing(client, app, logged_in, site_key, form, status, error):
    [rid] = file(client, site_key)
    response = act(client, rid, JSON, **form)
    assert response.status_code == status and error in response.json["error"]
    assert statuses(app) == {rid: "new"}
    assert rows(app, sa.select(Event)) == []


def test_after_acting_on_a_report_page_next_goes_to_the_next_report_of_its_list(client, app, logged_in,
                                                                                 site_key):
    oldest, middle, newest = file(client, site_key, 3)
    listed = "status=open"
    page = client.get("/reports?" + listed)
    assert f'href="/reports/{newest}?list={quote(listed)}"' in page.text
    report_page = client.get(f"/reports/{newest}?list={quote(listed)}")
    assert report_page.status_code == 200
    # The report page's actions carry the list, so the plain form post goes on to the next one.
    response = act(client, newest, action="close", resolution="fixed", expected_status="new", list=listed)
    assert response.headers["Location"] == f"/reports/{middle}?list={quote(listed)}"
    response = act(client, middle, action="confirm", list=listed)
    assert response.headers["Location"] == f"/reports/{oldest}?list={quote(listed)}"
    # The last of the list: back to the list.
    response = act(client, oldest, action="assign", list=listed)
    assert urlsplit(response.headers["Location"]).path == "/reports"
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"status": ["open"]}
    # Without a list (opened from elsewhere), the report's own page, as before.
    assert act(client, oldest, action="unassign").headers["Location"] == f"/reports/{oldest}"


def test_next_follows_the_lists_own_order_and_filter(client, app, logged_in, site_key, make_site):
    a, b, c = file(client, site_key, 3)
    for _ in range(2):  # b is the most reported
        post(client, report_body(site_key, idempotency_key=f"again-{_:08d}", exact="error number 1"))
    other = make_site(name="Other", origins=[OTHER])
    [elsewhere] = file(client, other, 1, start=9, origin=OTHER)
    with app.app_context():
        site_id = db.session.scalar(sa.select(Report.site_id).where(Report.id == a))
    listed = f"status=all&sort=most&site={site_id}"
    assert client.get(f"/reports/{b}/next?list={quote(listed)}").headers["Location"] == \
        f"/reports/{c}?list={quote(listed)}"
    assert client.get(f"/reports/{c}/next?list={quote(listed)}").headers["Location"] == \
        f"/reports/{a}?list={quote(listed)}"
    end = client.get(f"/reports/{a}/next?list={quote(listed)}")
    assert urlsplit(end.headers["Location"]).path == "/reports"  # the other site's report is not next
    assert elsewhere not in (a, b, c)
    # Without a list: the default one (open reports, newest first).
    assert client.get(f"/reports/{c}/next").headers["Location"] == f"/reports/{b}?list="


@pytest.mark.parametrize("listed", ["status=sideways", "sort=up", "site=x"])
def test_next_with_a_list_that_is_not_one_is_a_clear_400(client, logged_in, site_key, listed):
    [rid] = file(client, site_key)
    response = client.get(f"/reports/{rid}/next?list={quote(listed)}")
    assert response.status_code == 400 and "not a list of reports" in response.text


def test_assign_to_me_from_the_list_and_the_mine_and_unassigned_filters(client, app, logged_in, site_key):
    mine, free = file(client, site_key, 2)
    response = act(client, mine, JSON, action="assign", expected_status="new", list="status=open&assignee=none")
    assert response.json["report"]["assignee"] == "Eddie Tor" and response.json["in_list"] is False
    assert rows(app, sa.select(Event.kind).where(Event.report_id == mine)) == [("assignee",)]
    assert shown(client.get("/reports?assignee=me").text) == [mine]
    assert shown(client.get("/reports?assignee=none").text) == [free]
    page = client.get("/reports")
    assert ">Mine</a>" in page.text and ">Unassigned</a>" in page.text
    assert re.search(rf'action="/reports/{mine}/action".*?value="unassign"', page.text, re.S)
    act(client, mine, action="unassign")
    assert shown(client.get("/reports?assignee=me").text) == []
    assert client.get("/reports?assignee=someone").status_code == 400


def test_close_as_duplicate_of_a_report_typed_with_its_hash(client, app, logged_in, site_key):
    original, copy = file(client, site_key, 2)
    response = act(client, copy, JSON, action="close", resolution="duplicate", duplicate_of=f"#{original}")
    assert response.status_code == 200 and response.json["message"] == f"Closed as a duplicate of #{original}."
    assert rows(app, sa.select(Report.resolution, Report.duplicate_of_id).where(Report.id == copy)) == [
        ("duplicate", original)]


def test_duplicate_of_a_report_on_a_site_the_editor_cannot_see_is_refused_like_a_missing_one(
        client, app, auth, make_editor, make_site):
    mine_key = make_site(name="Mine", origins=["https://daily.example.com"])
    theirs_key = make_site(name="Theirs", origins=[OTHER])
    make_editor(sites=[mine_key])
    [hidden] = file(client, theirs_key, 1, origin=OTHER)
    [mine] = file(client, mine_key, 1, start=5)
    auth.login()
    response = act(client, mine, JSON, action="close", resolution="duplicate", duplicate_of=str(hidden))
    missing = act(client, mine, JSON, action="close", resolution="duplicate", duplicate_of="999999")
    assert response.status_code == missing.status_code == 422
    assert response.json["error"].replace(str(hidden), "N") == missing.json["error"].replace("999999", "N")
    assert statuses(app)[mine] == "new"


def test_spam_close_blocks_the_sender_when_asked(client, app, logged_in, site_key):
    from copydesk.models import SenderBlock
    [rid] = file(client, site_key)
    response = act(client, rid, JSON, action="close", resolution="spam", block_hours="168")
    assert response.status_code == 200
    assert rows(app, sa.select(SenderBlock.report_id)) == [(rid,)]


def bulk(client, **form):
    return client.post("/reports/bulk", data={"csrf_token": token(client), **form})


def seen(page_text):
    """What a shown list's bulk form carries back for "all matching"."""
    return dict(re.findall(r'name="(seen_newest|seen_matching)" value="(\d+)"', page_text))


def take(app, report_id, email):
    """The editor ``email`` takes the report (as from its page), in their own session."""
    with app.app_context():
        colleague = db.session.scalar(sa.select(Editor).where(Editor.email == email))
        db.session.get(Report, report_id).assign(colleague, by=colleague)
        db.session.commit()


def test_bulk_acts_on_the_ticked_reports_and_skips_those_changed_since(client, app, logged_in, site_key):
    a, b, c = file(client, site_key, 3)
    page = client.get("/reports?status=open")
    assert 'form="bulk"' in page.text and f'name="expected_{a}" value="new"' in page.text
    act(client, b, action="confirm")  # another editor, after the list was shown
    response = bulk(client, action="close", resolution="fixed", report=[a, b], list="status=open",
                    **{f"expected_{a}": "new", f"expected_{b}": "new", f"expected_{c}": "new"})
    assert response.status_code == 302 and parse_qs(urlsplit(response.headers["Location"]).query) == {
        "status": ["open"]}
    text = client.get(response.headers["Location"]).text
    assert "Done for 1 report." in text
    assert "1 report left as it was: it changed since the list was shown." in text
    assert statuses(app) == {a: "closed", b: "confirmed", c: "new"}
    # Each one through the model: audited in its own history.
    assert ("status", "new", "closed") in rows(
        app, sa.select(Event.kind, Event.from_value, Event.to_value).where(Event.report_id == a))


def test_bulk_assign_and_refusals_are_counted_one_by_one(client, app, logged_in, site_key):
    a, b = file(client, site_key, 2)
    act(client, b, action="confirm")
    response = bulk(client, action="confirm", report=[a, b], **{f"expected_{a}": "new",
                                                               f"expected_{b}": "confirmed"})
    text = client.get(response.headers["Location"]).text
    assert "Done for 1 report." in text and f"#{b}: Only a new report can be confirmed." in text
    bulk(client, action="assign", report=[a, b], **{f"expected_{a}": "confirmed", f"expected_{b}": "confirmed"})
    with app.app_context():
        editor_id = db.session.scalar(sa.select(Editor.id))
    assert rows(app, sa.select(Report.assignee_id).order_by(Report.id)) == [(editor_id,), (editor_id,)]


def test_bulk_all_matching_acts_only_on_reports_still_matching_at_most_the_limit(client, app, logged_in,
                                                                                 site_key, monkeypatch):
    from copydesk.dashboard import reports as views
    a, b, c, d = file(client, site_key, 4)
    act(client, d, action="close", resolution="spam")
    page = client.get("/reports?status=new")
    assert "Select all 3 reports matching this filter" in page.text
    monkeypatch.setattr(views, "BULK_LIMIT", 2)
    response = bulk(client, action="close", resolution="fixed", all_matching="true", list="status=new",
                    **seen(page.text))
    text = client.get(response.headers["Location"]).text
    assert "Done for 2 reports." in text and "At most 2 reports at a time" in text
    # The list's own order (newest first); the closed one did not match and was left alone.
    assert statuses(app) == {a: "new", b: "closed", c: "closed", d: "closed"}
    assert rows(app, sa.select(Report.resolution).where(Report.id == d)) == [("spam",)]


def test_bulk_all_matching_never_reaches_another_sites_reports(client, app, auth, make_editor, make_site):
    mine_key = make_site(name="Mine", origins=["https://daily.example.com"])
    theirs_key = make_site(name="Theirs", origins=[OTHER])
    make_editor(sites=[mine_key])
    [hidden] = file(client, theirs_key, 1, origin=OTHER)
    [mine] = file(client, mine_key, 1, start=5)
    auth.login()
    page = client.get("/reports?status=all")
    assert shown(page.text) == [mine]
    bulk(client, action="close", resolution="fixed", all_matching="true", list="status=all", **seen(page.text))
    # Ticked by hand too: a report the editor cannot see is left alone.
    bulk(client, action="assign", report=[hidden], **{f"expected_{hidden}": "new"})
    assert statuses(app) == {hidden: "new", mine: "closed"}
    assert rows(app, sa.select(Report.assignee_id).where(Report.id == hidden)) == [(None,)]


def test_bulk_all_matching_leaves_reports_filed_after_the_list_was_shown(client, app, logged_in, site_key):
    [old] = file(client, site_key, 1)
    page = client.get("/reports?status=open")
    assert "Select the 1 report matching this filter" in page.text
    [new] = file(client, site_key, 1, start=1)  # a reader's report, after the list was shown
    response = bulk(client, action="close", resolution="spam", all_matching="true", list="status=open",
                    **seen(page.text))
    assert "Done for 1 report." in client.get(response.headers["Location"]).text
    assert statuses(app) == {old: "closed", new: "new"}


def test_bulk_all_matching_is_refused_when_what_matched_changed_since(client, app, logged_in, site_key):
    a, b, c = file(client, site_key, 3)
    page = client.get("/reports?status=new")
    act(client, b, action="confirm")  # another editor: b no longer matches the list shown
    response = bulk(client, action="close", resolution="fixed", all_matching="true", list="status=new",
                    **seen(page.text))
    text = client.get(response.headers["Location"]).text
    assert "Nothing was changed: the reports matching this filter changed since the list was shown." in text
    assert statuses(app) == {a: "new", b: "confirmed", c: "new"}
    # The list as it is now offers what it shows: acting from it goes through.
    response = bulk(client, action="close", resolution="fixed", all_matching="true", list="status=new",
                    **seen(text))
    assert "Done for 2 reports." in client.get(response.headers["Location"]).text
    assert statuses(app) == {a: "closed", b: "confirmed", c: "closed"}


def test_bulk_assign_to_me_never_takes_a_colleagues_report(client, app, logged_in, make_editor, site_key):
    make_editor(email="colleague@example.com", name="Col League")
    free, theirs, mine = file(client, site_key, 3)
    take(app, theirs, "colleague@example.com")
    take(app, mine, "editor@example.com")
    page = client.get("/reports")
    response = bulk(client, action="assign", report=[free, theirs, mine], **seen(page.text),
                    **{f"expected_{r}": "new" for r in (free, theirs, mine)})
    text = client.get(response.headers["Location"]).text
    assert "Done for 2 reports." in text and "1 report left: assigned to someone else." in text
    bulk(client, action="assign", all_matching="true", list="status=open", **seen(page.text))
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Editor.email, Editor.id)).all())
    assert dict(rows(app, sa.select(Report.id, Report.assignee_id))) == {
        free: ids["editor@example.com"], theirs: ids["colleague@example.com"], mine: ids["editor@example.com"]}


def test_a_stale_assignment_button_is_refused_and_changes_nothing(client, app, logged_in, make_editor, site_key):
    make_editor(email="colleague@example.com", name="Col League")
    [rid] = file(client, site_key, 1)
    act(client, rid, action="assign")
    page = client.get("/reports")
    with app.app_context():
        me = db.session.scalar(sa.select(Editor.id).where(Editor.email == "editor@example.com"))
    assert f'name="expected_assignee" value="{me}"' in page.text  # the list shows "Unassign me"
    take(app, rid, "colleague@example.com")  # meanwhile, a colleague takes it
    response = act(client, rid, JSON, action="unassign", expected_status="new", expected_assignee=str(me))
    assert response.status_code == 409
    assert response.json["error"] == "This report was assigned to Col League meanwhile; nothing was changed."
    # A stale "Assign to me" (the list showed it unassigned), as a plain form post.
    response = act(client, rid, action="assign", expected_status="new", expected_assignee="")
    assert "This report was assigned to Col League meanwhile" in client.get(response.headers["Location"]).text
    colleague = rows(app, sa.select(Editor.id).where(Editor.email == "colleague@example.com"))[0][0]
    assert rows(app, sa.select(Report.assignee_id)) == [(colleague,)]
    with app.app_context():
        db.session.get(Report, rid).assign(None, by=None)
        db.session.commit()
    response = act(client, rid, JSON, action="unassign", expected_assignee=str(colleague))
    assert response.status_code == 409 and response.json["error"] == (
        "Someone unassigned this report meanwhile; nothing was changed.")
    assert act(client, rid, JSON, action="assign", expected_assignee="").json["report"]["assignee"] == "Eddie Tor"
    assert act(client, rid, JSON, action="assign", expected_assignee="x").status_code == 422


def test_bulk_and_the_filter_forms_read_a_list_alike(client, app, logged_in, site_key):
    [rid] = file(client, site_key, 1)
    response = bulk(client, action="confirm", report=[rid], list="status=open&after=99", **{f"expected_{rid}": "new"})
    checked = client.post("/reports/check", data={"csrf_token": token(client), "status": "open", "after": "99"})
    # Both go back to the list itself, never to a page of it.
    assert response.headers["Location"] == checked.headers["Location"] == "/reports?status=open"
    bad = bulk(client, action="confirm", report=[rid], list="status=sideways", **{f"expected_{rid}": "new"})
    bad_check = client.post("/reports/check", data={"csrf_token": token(client), "status": "sideways"})
    assert bad.status_code == bad_check.status_code == 400
    assert "These filters are not valid: status: Must be one of" in bad.text
    assert "These filters are not valid: status: Must be one of" in bad_check.text


@pytest.mark.parametrize("form, message", [
    ({"action": "confirm"}, "Tick the reports to act on"),
    ({"action": "close", "resolution": "fixed", "duplicate_of": "#1", "report": "1", "expected_1": "new"},
     "A number in “duplicate of #” closes the reports as its duplicates"),
    ({"action": "close", "resolution": "fixed", "all_matching": "true", "list": "status=open"},
     "does not say which reports the list showed"),
    ({"action": "close", "report": "1", "expected_1": "new"}, "Choose a resolution."),
    ({"action": "reopen", "report": "1"}, "Must be one of"),
    ({"action": "confirm", "report": "x"}, "Not a valid integer."),
    ({"action": "confirm", "all_matching": "true", "list": "status=sideways"}, "These filters are not valid"),
    ({"action": "confirm", "all_matching": "true", "list": "resolution=fixed&q=%22%22"}, "These filters are not valid"),
])
def test_bad_bulk_requests_are_a_clear_400(client, app, logged_in, site_key, form, message):
    file(client, site_key)
    response = bulk(client, **form)
    assert response.status_code == 400 and message in response.text
    assert statuses(app) == {1: "new"}


def test_a_search_the_desk_cannot_read_is_a_400_form_error(client, logged_in, site_key):
    file(client, site_key)
    response = client.get('/reports?q=%22%22')
    assert response.status_code == 400 and 'class="flash error"' in response.text
