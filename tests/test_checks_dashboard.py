"""Page checks in the dashboard, against real local article pages: "Check now", the check
after closing as fixed and its warning, a reverted fix reopened (and announced again by
email), the state in the list and its filter, bulk checks and the bulk close of changed
reports, "Open on page", and the site's period."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from selectolax.lexbor import LexborHTMLParser

from conftest import csrf_token, rows, with_settings
from copydesk import checks, fragments
from copydesk.checks import CheckRequest, PageCheck, due_reports, run_due, run_requested
from copydesk.db import db
from copydesk.models import Event, Report, Site, utcnow
from copydesk.notify.models import Job, Rule
from copydesk.worker import Worker
from test_checks import PageServer, article, file_report

CHANGED = "principal keeper"
# Each test's pages are on the local server; CHECK_ALLOW_PRIVATE lets the desk read them.
pytestmark = with_settings(CHECK_ALLOW_PRIVATE=True)


@pytest.fixture
def server():
    page_server = PageServer(host="127.0.0.1")
    yield page_server
    page_server.stop()


@pytest.fixture
def editor(auth, make_editor):
    editor_id = make_editor()
    assert auth.login().status_code == 302
    return editor_id


def file(client, make_site, server, path="/a", n=0, **fields):
    """A report on ``path`` of its own site (one site per report keeps reports apart)."""
    return file_report(client, make_site, server.origin("127.0.0.1"), path=path, name=f"Site {n}",
                       key=f"k-{n:010d}", **fields)


def post_form(client, auth, url, data, page="/reports"):
    return client.post(url, data={"csrf_token": auth.token(page), **data})


def report_page(client, report_id):
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    return LexborHTMLParser(page.text)


def close_as_fixed(client, auth, report_id):
    response = post_form(client, auth, f"/reports/{report_id}/action",
                         {"action": "close", "resolution": "fixed"}, page=f"/reports/{report_id}")
    assert response.status_code == 302


def state_of(app, report_id):
    with app.app_context():
        check = db.session.get(PageCheck, report_id)
        return check and check.state


def text(tree, selector):
    node = tree.css_first(selector)
    return node.text(separator=" ") if node is not None else None


# --- Check now ------------------------------------------------------------------------

def test_check_now_shows_the_state_and_the_changed_words_as_a_diff(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    assert text(report_page(client, report_id), ".page-check .check-state") == "unchecked"
    server.page("/a", article(words=CHANGED))
    response = post_form(client, auth, f"/reports/{report_id}/check", {}, page=f"/reports/{report_id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/reports/{report_id}")
    assert state_of(app, report_id) == "changed"
    tree = report_page(client, report_id)
    assert "Checked the page: The reported words have changed on the page" in tree.css_first(".flash").text()
    assert text(tree, ".page-check .check-state") == "changed"
    assert [node.text() for node in tree.css(".check-diff del")] == ["principle"]
    assert [node.text() for node in tree.css(".check-diff ins")] == ["principal"]
    # The list says it too, with when.
    row = LexborHTMLParser(client.get("/reports").text).css_first("td.check")
    assert row.css_first(".check-state").text() == "changed" and row.css_first("time") is not None


def test_check_now_says_where_moved_words_are(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article().replace("The principle keeper kept the accounts and the log.", "").replace(
        "weather allowing.", "weather allowing. The principle keeper kept the accounts and the log."))
    post_form(client, auth, f"/reports/{report_id}/check", {}, page=f"/reports/{report_id}")
    tree = report_page(client, report_id)
    assert text(tree, ".page-check .check-state") == "moved"
    where = text(tree, ".check-where")
    assert "weather allowing. The" in where and tree.css_first(".check-where mark").text() == "principle keeper"
    assert "further down the article" in where


def test_changed_words_with_markup_are_escaped(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article(words="&lt;img src=x onerror=alert(1)&gt; keeper"))
    post_form(client, auth, f"/reports/{report_id}/check", {}, page=f"/reports/{report_id}")
    page = client.get(f"/reports/{report_id}").text
    assert "<ins>&lt;img src=x onerror=alert(1)&gt;</ins>" in page
    assert "<img src=x" not in page


def test_check_now_of_an_unreadable_page_says_why(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", "<p>Oops</p>", 503)
    post_form(client, auth, f"/reports/{report_id}/check", {}, page=f"/reports/{report_id}")
    tree = report_page(client, report_id)
    assert text(tree, ".page-check .check-state") == "unknown"
    assert "HTTP 503" in text(tree, ".check-reason")


def test_check_now_of_a_missing_report_is_404(client, auth, editor):
    assert post_form(client, auth, "/reports/999/check", {}).status_code == 404


# --- Closing as fixed -------------------------------------------------------------------

def test_closing_as_fixed_with_the_words_still_there_warns(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article())
    with app.app_context():
        Worker(app).run_jobs()  # the first round: the worker's job rows exist, not due for a minute
        assert db.session.get(Job, checks.REQUESTED_JOB).next_run_at > utcnow()
    close_as_fixed(client, auth, report_id)
    # Queued, and the job brought forward: the next worker round (every second) checks it.
    assert rows(app, sa.select(CheckRequest.report_id)) == [(report_id,)]
    assert "A check is queued" in report_page(client, report_id).css_first(".check-queued").text()
    with app.app_context():
        assert db.session.get(Job, checks.REQUESTED_JOB).next_run_at <= utcnow()
        Worker(app).run_jobs()
    assert rows(app, sa.select(CheckRequest.report_id)) == []
    tree = report_page(client, report_id)
    warning = tree.css_first(".page-check .flash.warning")
    assert warning is not None and "The reported words are still on the page" in warning.text()
    assert "check-warning" in tree.css_first(".page-check .check-state").attributes["class"]
    # Still closed: the editor decides.
    with app.app_context():
        assert db.session.get(Report, report_id).status == "closed"


def test_closing_as_fixed_with_the_words_changed_shows_no_warning(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article(words=CHANGED))
    close_as_fixed(client, auth, report_id)
    with app.app_context():
        assert run_requested() == {report_id: "changed"}
    tree = report_page(client, report_id)
    assert tree.css_first(".flash.warning") is None
    assert text(tree, ".page-check .check-state") == "changed"


def test_a_check_before_the_fix_is_no_warning(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article())
    post_form(client, auth, f"/reports/{report_id}/check", {}, page=f"/reports/{report_id}")
    close_as_fixed(client, auth, report_id)
    assert report_page(client, report_id).css_first(".flash.warning") is None


def test_closing_otherwise_than_fixed_queues_no_check(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    post_form(client, auth, f"/reports/{report_id}/action", {"action": "close", "resolution": "spam"},
              page=f"/reports/{report_id}")
    assert rows(app, sa.select(CheckRequest.report_id)) == []


@pytest.mark.parametrize("run", ["requested", "due"])
def test_a_check_that_breaks_does_not_hold_up_the_queue(app, client, make_site, server, monkeypatch, run):
    """A page the check chokes on is recorded as unknown (retried later), and the round goes on:
    the worker's queue of requested checks and its periodic round alike."""
    broken, fine = file(client, make_site, server, n=1), file(client, make_site, server, n=2)
    server.page("/a", article())
    real = checks.inspect

    def inspect(report, **options):
        if report.id == broken:
            raise RuntimeError("a page the parser chokes on")
        return real(report, **options)
    monkeypatch.setattr(checks, "inspect", inspect)
    with app.app_context():
        if run == "requested":
            checks.request_checks([broken, fine])
            db.session.commit()
            assert run_requested() == {broken: "unknown", fine: "still-there"}
        else:
            assert checks.run_due() == {broken: "unknown", fine: "still-there"}
    assert rows(app, sa.select(CheckRequest.report_id)) == []
    [(state, detail)] = rows(app, sa.select(PageCheck.state, PageCheck.detail_json).where(PageCheck.report_id == broken))
    assert state == "unknown" and "RuntimeError" in detail


# --- A reverted fix ---------------------------------------------------------------------

def test_reverted_fix_reopens_the_report_by_the_desk_and_announces_it_again(
        app, client, auth, editor, make_site, server, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    report_id = file(client, make_site, server)
    with app.app_context():
        site = db.session.get(Report, report_id).site
        db.session.add(Rule(site_id=site.id, recipient="email", target="desk@example.com", mode="instant"))
        db.session.commit()
    server.page("/a", article())
    Worker(app).run_once()
    [first] = smtp_server.wait_for(1)
    assert first.recipients == ["desk@example.com"]

    server.page("/a", article(words=CHANGED))
    close_as_fixed(client, auth, report_id)
    with app.app_context():
        assert run_requested() == {report_id: "changed"}
        # The next day the old words are back: the fix was reverted.
        server.page("/a", article())
        assert run_due(utcnow() + timedelta(days=1, minutes=1)) == {report_id: "still-there"}
        report = db.session.get(Report, report_id)
        assert (report.status, report.resolution) == ("new", None)
        assert report.notify_due is True and report.announced_count == 0
        events = db.session.execute(sa.select(Event.editor_id, Event.kind, Event.from_value, Event.to_value)
                                    .where(Event.report_id == report_id).order_by(Event.id)).all()
    assert [tuple(event) for event in events] == [
        (None, "check", None, "still-there"),
        (editor, "status", "new", "closed"), (editor, "resolution", None, "fixed"),
        (None, "check", "still-there", "changed"),
        (None, "check", "changed", "still-there"),
        (None, "status", "closed", "new"), (None, "resolution", "fixed", None)]
    history = [node.text(separator=" ") for node in report_page(client, report_id).css(".events .event")]
    assert "Copydesk's page check changed status from closed to new" in " ".join(history[-2].split())
    assert "Copydesk's page check found the page still-there" in " ".join(history[-3].split())

    # The worker's planner announces it like a new report.
    Worker(app).run_once()
    second = smtp_server.wait_for(2)[1]
    assert second.recipients == ["desk@example.com"] and "principle keeper" in second.text
    assert "Now reported by" not in second.text


def test_a_fix_still_there_a_day_later_is_reopened_once(app, client, auth, editor, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article())
    close_as_fixed(client, auth, report_id)
    with app.app_context():
        assert run_requested() == {report_id: "still-there"}
        assert db.session.get(Report, report_id).status == "closed"  # a warning, not yet a reopening
        later = utcnow() + timedelta(days=1, minutes=1)
        assert run_due(later) == {report_id: "still-there"}
        assert db.session.get(Report, report_id).status == "new"
        assert run_due(later) == {}
        reopenings = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.report_id == report_id, Event.kind == "status", Event.to_value == "new"))
    assert reopenings == 1


def test_a_report_reopened_by_an_editor_meanwhile_is_not_reopened_again(app, client, auth, editor, make_site,
                                                                         server):
    report_id = file(client, make_site, server)
    server.page("/a", article(words=CHANGED))
    close_as_fixed(client, auth, report_id)
    with app.app_context():
        run_requested()
        stale = db.session.get(Report, report_id)
        assert stale.status == "closed"
        # An editor reopens it in another request while the page is being read.
        db.session.execute(sa.update(Report).where(Report.id == report_id).values(status="new", resolution=None))
        server.page("/a", article())
        checks.check_report(stale, utcnow() + timedelta(days=2))
        assert db.session.get(Report, report_id).status == "new"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.report_id == report_id, Event.kind == "status", Event.editor_id.is_(None))) == 0


# --- The list: state, filter, "Open on page", bulk actions --------------------------------

@pytest.fixture
def four(app, client, make_site, server):
    """Four reports, one per site: still there, changed, moved away, never checked."""
    server.page("/same", article())
    server.page("/fixed", article(words=CHANGED))
    server.page("/gone", "<p>Gone</p>", status=410)
    ids = {name: file(client, make_site, server, path=f"/{path}", n=n)
           for n, (name, path) in enumerate([("still", "same"), ("changed", "fixed"), ("gone", "gone"),
                                             ("unchecked", "same")])}
    with app.app_context():
        for name in ("still", "changed", "gone"):
            checks.check_report(db.session.get(Report, ids[name]))
    return ids


def listed(client, query):
    page = client.get("/reports?" + query)
    assert page.status_code == 200
    return [int(link.text().lstrip("#")) for link in LexborHTMLParser(page.text).css("td a[aria-label^=Report]")]


@pytest.mark.parametrize("state, expected", [
    ("still-there", ["still"]), ("changed", ["changed"]), ("page-gone", ["gone"]), ("unchecked", ["unchecked"]),
    ("moved", []), ("unknown", []), ("", ["unchecked", "gone", "changed", "still"])])
def test_the_list_filters_by_check_state(client, editor, four, state, expected):
    assert listed(client, f"status=all&check={state}") == [four[name] for name in expected]


def test_a_bad_check_filter_is_a_400(client, editor):
    page = client.get("/reports?check=fixed")
    assert page.status_code == 400 and "check: Must be one of" in page.text


def test_open_on_page_links_to_the_reported_words(app, client, editor, make_site, server):
    report_id = file(client, make_site, server)
    with app.app_context():
        link = fragments.page_link(db.session.get(Report, report_id))
    assert "#:~:text=" in link
    [in_list] = LexborHTMLParser(client.get("/reports").text).css("a.open-on-page")
    [on_page] = report_page(client, report_id).css("a.open-on-page")
    for anchor in (in_list, on_page):
        assert anchor.attributes["href"] == link and "noopener" in anchor.attributes["rel"]
    # Not once the page is no longer on the site's origins.
    with app.app_context():
        db.session.get(Report, report_id).site.allowed_origins = ["https://elsewhere.example.com"]
        db.session.commit()
    assert LexborHTMLParser(client.get("/reports").text).css("a.open-on-page") == []
    assert report_page(client, report_id).css("a.open-on-page") == []


def test_bulk_check_queues_the_filters_reports_for_the_worker(app, client, auth, editor, four, server,
                                                              monkeypatch):
    response = post_form(client, auth, "/reports/check", {"status": "all", "check": "unchecked"})
    assert response.status_code == 302 and "check=unchecked" in response.headers["Location"]
    assert rows(app, sa.select(CheckRequest.report_id)) == [(four["unchecked"],)]
    assert "Queued 1 report for a page check" in client.get(response.headers["Location"]).text
    # Again: queued already, nothing more.
    post_form(client, auth, "/reports/check", {"status": "all", "check": "unchecked"})
    assert rows(app, sa.select(CheckRequest.report_id)) == [(four["unchecked"],)]
    with app.app_context():
        assert run_requested() == {four["unchecked"]: "still-there"}

    # At most BULK_LIMIT a click, those checked longest ago first.
    from copydesk.dashboard import reports as views
    monkeypatch.setattr(views, "BULK_LIMIT", 2)
    with app.app_context():
        db.session.execute(sa.update(PageCheck).where(PageCheck.report_id == four["gone"])
                           .values(checked_at=utcnow() - timedelta(days=3)))
        db.session.execute(sa.update(PageCheck).where(PageCheck.report_id == four["still"])
                           .values(checked_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    response = post_form(client, auth, "/reports/check", {"status": "all"})
    assert sorted(rows(app, sa.select(CheckRequest.report_id))) == sorted([(four["gone"],), (four["still"],)])
    assert "At most 2 at a time" in client.get(response.headers["Location"]).text


def test_bulk_check_with_bad_filters_is_a_400(app, client, auth, editor):
    response = post_form(client, auth, "/reports/check", {"status": "everything"})
    assert response.status_code == 400 and "These filters are not valid: status" in response.text
    assert rows(app, sa.select(CheckRequest.report_id)) == []


def test_close_all_changed_as_fixed_after_confirming(app, client, auth, editor, four, make_site, server):
    server.page("/fixed2", article(words="principal keepers"))
    other = file(client, make_site, server, path="/fixed2", n=7)
    with app.app_context():
        checks.check_report(db.session.get(Report, other))
    confirm = client.get("/reports/close-changed?status=all")
    assert confirm.status_code == 200
    tree = LexborHTMLParser(confirm.text)
    listed_ids = [int(node.attributes["value"]) for node in tree.css("input[name=report]")]
    assert listed_ids == [other, four["changed"]]
    assert [node.text() for node in tree.css(".check-diff ins")] == ["principal keepers", "principal"]
    assert "Close 2 reports as fixed" in tree.css_first("form.close-changed button").text()
    # Meanwhile the other report's page is read again: the words are back. It stays open.
    server.page("/fixed2", article())
    with app.app_context():
        checks.check_report(db.session.get(Report, other))
    response = client.post("/reports/close-changed", data={
        "csrf_token": csrf_token(confirm.text), "report": listed_ids, "status": "all"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports?status=all")
    assert ("Closed 1 report as fixed. 1 left as they were: closed or checked again meanwhile."
            in client.get(response.headers["Location"]).text)
    with app.app_context():
        states = dict(db.session.execute(sa.select(Report.id, Report.status)).all())
        audit = db.session.execute(sa.select(Event.editor_id, Event.kind, Event.to_value)
                                   .where(Event.report_id == four["changed"], Event.kind != "check")
                                   .order_by(Event.id)).all()
    assert states[four["changed"]] == "closed" and states[other] == "new"
    assert all(states[four[name]] == "new" for name in ("still", "gone", "unchecked"))
    assert [tuple(row) for row in audit] == [(editor, "status", "closed"), (editor, "resolution", "fixed")]
    # Closed as fixed, so checked once more at once.
    assert rows(app, sa.select(CheckRequest.report_id)) == [(four["changed"],)]


def test_close_all_changed_takes_only_the_current_filter(app, client, editor, four):
    with app.app_context():
        site_of_changed = db.session.get(Report, four["changed"]).site_id
    assert "No open report of this filter" in client.get(
        f"/reports/close-changed?status=all&site={site_of_changed + 1}").text
    assert "Close 1 report as fixed" in client.get(f"/reports/close-changed?site={site_of_changed}").text


@pytest.mark.parametrize("form, status", [({}, 400), ({"report": "abc"}, 400), ({"report": "0"}, 400),
                                          ({"report": "1", "sort": "sideways"}, 400)])
def test_close_all_changed_refuses_bad_input(app, client, auth, editor, four, form, status):
    response = post_form(client, auth, "/reports/close-changed", form)
    assert response.status_code == status
    assert rows(app, sa.select(Report.id).where(Report.status == "closed")) == []


def test_close_all_changed_of_more_than_the_limit_is_refused(app, client, auth, editor, four):
    response = post_form(client, auth, "/reports/close-changed", {"report": [str(n) for n in range(1, 202)]})
    assert response.status_code == 400 and "1 to 200 reports" in response.text


# --- The site's period ------------------------------------------------------------------

def test_site_period_zero_means_no_periodic_checks(app, client, make_site, server):
    still = file(client, make_site, server, n=1)
    never = file(client, make_site, server, n=2)
    server.page("/a", article())
    with app.app_context():
        db.session.get(Report, never).site.check_every_hours = 0
        db.session.commit()
        assert run_due() == {still: "still-there"}
        assert run_due(utcnow() + timedelta(days=30)) == {still: "still-there"}
        # "Check now" and a fix's check still work.
        assert checks.check_report(db.session.get(Report, never)) == "still-there"


def test_site_period_sets_when_open_reports_are_checked_again(app, client, make_site, server):
    report_id = file(client, make_site, server)
    server.page("/a", article())
    with app.app_context():
        db.session.get(Report, report_id).site.check_every_hours = 6
        db.session.commit()
        assert run_due() == {report_id: "still-there"}
        assert run_due(utcnow() + timedelta(hours=5, minutes=59)) == {}
        assert run_due(utcnow() + timedelta(hours=6, minutes=1)) == {report_id: "still-there"}


def test_site_form_saves_the_period_and_brings_checks_forward(app, client, auth, make_editor, make_site, server):
    make_editor(role="admin")
    auth.login()
    report_id = file(client, make_site, server)
    server.page("/a", article())
    with app.app_context():
        checks.check_report(db.session.get(Report, report_id))
        site_id = db.session.get(Report, report_id).site_id
    page = client.get(f"/sites/{site_id}")
    assert 'name="check_every_hours"' in page.text and 'value="24"' in page.text
    form = {"name": "Site 0", "origins": server.origin("127.0.0.1"), "language": "en",
            "csrf_token": csrf_token(page.text)}
    assert client.post(f"/sites/{site_id}", data={**form, "check_every_hours": "2"}).status_code == 302
    with app.app_context():
        assert db.session.get(Site, site_id).check_every_hours == 2
        # Checked a moment ago for a day; now due in two hours at the latest.
        assert db.session.get(PageCheck, report_id).next_check_at <= utcnow() + timedelta(hours=2)
        assert [r.id for r in due_reports(utcnow() + timedelta(hours=2, seconds=1))] == [report_id]
    for bad in ("-1", "745", "daily"):
        response = client.post(f"/sites/{site_id}", data={**form, "check_every_hours": bad})
        assert response.status_code == 400 and "check_every_hours-error" in response.text
    with app.app_context():
        assert db.session.get(Site, site_id).check_every_hours == 2


def test_new_sites_check_daily_by_default(app, runner):
    result = runner.invoke(args=["sites", "add", "Weekly", "--origin", "https://weekly.example.com"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(Site.check_every_hours)) == 24
