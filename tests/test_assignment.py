"""Assigning a report to an editor: who may take it, the report's history, the assignee's
email (sent by the worker, never for assigning oneself); and closing as a duplicate of #N."""

import json
import re

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, AuthActions, csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import AuditEntry, Editor, Event, Refused, Report, Site
from copydesk.notify.models import Delivery


def send(client, site_key, key, origin=ORIGIN, **fields):
    response = client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=key, **fields),
                           headers={"Origin": origin})
    assert response.status_code == 201, response.text
    return response.json["id"]


@pytest.fixture
def desk(app, client, auth, make_editor, make_site, site_key):
    """A report on the Daily; Eddie (logged in) and Nora edit the Daily, Otto only the Weekly."""
    weekly = make_site(name="Weekly", origins=["https://weekly.example.com"])
    ids = {"eddie": make_editor(), "nora": make_editor("nora@example.com", name="Nora Desk", sites=[site_key]),
           "otto": make_editor("otto@example.com", name="Otto Out", sites=[weekly]),
           "ada": make_editor("ada@example.com", name="Ada Admin", role="admin")}
    ids["report"] = send(client, site_key, "assign-0000001")
    assert auth.login().status_code == 302
    return ids


def assign(client, report_id, editor=""):
    token = csrf_token(client.get(f"/reports/{report_id}").text)
    return client.post(f"/reports/{report_id}/assign", data={"editor": str(editor), "csrf_token": token})


def assignee(app, report_id):
    with app.app_context():
        return db.session.get(Report, report_id).assignee_id


def test_assigning_records_who_gave_it_to_whom_and_unassigning_clears_it(app, client, desk):
    response = assign(client, desk["report"], desk["nora"])
    assert response.status_code == 302
    assert "assigned to Nora Desk" in client.get(response.headers["Location"]).text
    assert assignee(app, desk["report"]) == desk["nora"]

    assign(client, desk["report"], "")
    assert assignee(app, desk["report"]) is None
    assert rows(app, sa.select(Event.kind, Event.editor_id, Event.from_value, Event.to_value)
                .where(Event.kind == "assignee").order_by(Event.id)) == [
        ("assignee", desk["eddie"], None, str(desk["nora"])),
        ("assignee", desk["eddie"], str(desk["nora"]), None)]


def test_an_editor_who_cannot_see_the_site_is_refused_without_learning_their_name(app, client, desk):
    response = assign(client, desk["report"], desk["otto"])
    # The answer for an unknown editor: nothing tells that Otto exists, nor his name.
    assert response.status_code == 422
    assert "There is no such editor." in response.text
    assert "Otto" not in response.text and "otto@" not in response.text
    assert assignee(app, desk["report"]) is None
    assert rows(app, sa.select(Event.id).where(Event.kind == "assignee")) == []


def test_an_inactive_editor_is_refused_and_an_admin_may_take_any_report(app, desk):
    with app.app_context():
        report, eddie = db.session.get(Report, desk["report"]), db.session.get(Editor, desk["eddie"])
        nora = db.session.get(Editor, desk["nora"])
        nora.active = False
        with pytest.raises(Refused):
            report.assign(nora, by=eddie)
        report.assign(db.session.get(Editor, desk["ada"]), by=eddie)
        db.session.commit()
    assert assignee(app, desk["report"]) == desk["ada"]


# "١" is an Arabic-Indic one: a digit to str.isdecimal() and int(), not an editor's number.
@pytest.mark.parametrize("editor", ["999999", "x", "1" * 30, "-1", "99999999999", "١", "²"])
def test_an_unknown_editor_is_a_422_not_a_500(app, client, desk, editor):
    response = assign(client, desk["report"], editor)
    assert response.status_code == 422
    assert "There is no such editor." in response.text
    assert assignee(app, desk["report"]) is None


def test_the_report_page_offers_only_editors_who_see_the_site(app, client, desk):
    from copydesk.dashboard.moderation import assignable_editors
    with app.test_request_context():
        names = [e.display_name for e in assignable_editors(db.session.get(Report, desk["report"]))]
    assert names == ["Ada Admin", "Eddie Tor", "Nora Desk"]


def test_the_assignee_gets_one_email_through_the_worker(app, client, desk, smtp_server):
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    app.config["PUBLIC_URL"] = "https://desk.example.com"
    with app.app_context():  # the report's own announcement is not what this test is about
        db.session.execute(sa.update(Report).values(notify_due=False))
        db.session.commit()
    assign(client, desk["report"], desk["nora"])

    outcomes = Worker(app).run_once()

    assert [(o.kind, o.state) for o in outcomes] == [("assigned", "sent")]
    [mail] = smtp_server.mails
    assert mail.recipients == ["nora@example.com"]
    assert mail.subject == "Assigned to you: “principle keeper” — Daily"
    assert "Eddie Tor assigned you a report on Daily." in mail.text
    assert f"https://desk.example.com/reports/{desk['report']}" in mail.text
    assert "Eddie Tor assigned you a report on Daily." in mail.html
    assert Worker(app).run_once() == []  # once


def test_no_email_when_editors_assign_themselves(app, client, desk):
    assign(client, desk["report"], desk["eddie"])
    assert assignee(app, desk["report"]) == desk["eddie"]
    assert rows(app, sa.select(Delivery.id).where(Delivery.kind == "assigned")) == []


def test_reassigning_before_the_email_went_cancels_it(app, client, desk):
    assign(client, desk["report"], desk["nora"])
    assign(client, desk["report"], desk["ada"])
    assert rows(app, sa.select(Delivery.recipient, Delivery.state).where(Delivery.kind == "assigned")
                .order_by(Delivery.id)) == [("nora@example.com", "cancelled"), ("ada@example.com", "pending")]


def test_an_email_for_an_editor_deactivated_meanwhile_is_cancelled(app, client, desk, smtp_server):
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    with app.app_context():
        db.session.execute(sa.update(Report).values(notify_due=False))
        db.session.commit()
    assign(client, desk["report"], desk["nora"])
    with app.app_context():
        db.session.execute(sa.update(Editor).where(Editor.id == desk["nora"]).values(active=False))
        db.session.commit()
    assert [o.state for o in Worker(app).run_once()] == ["cancelled"]
    assert smtp_server.mails == []


def test_an_outsider_cannot_assign_a_report_of_another_site(app, client, desk):
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    page = client.get("/login")
    client.post("/login", data={"email": "otto@example.com", "password": "correct horse battery",
                                "csrf_token": csrf_token(page.text)})
    token = csrf_token(client.get("/account").text)
    response = client.post(f"/reports/{desk['report']}/assign", data={"editor": str(desk["otto"]), "csrf_token": token})
    assert response.status_code == 404
    assert assignee(app, desk["report"]) is None


# --- Duplicate of #N ---

def close_as_duplicate(app, report_id, original, by_id):
    with app.app_context():
        report = db.session.get(Report, report_id)
        report.close("duplicate", by=db.session.get(Editor, by_id), duplicate_of=original)
        db.session.commit()


def test_closing_as_duplicate_records_which_report_and_reopening_clears_it(app, client, desk, site_key):
    other = send(client, site_key, "assign-0000002", exact="another error")
    close_as_duplicate(app, other, desk["report"], desk["eddie"])
    with app.app_context():
        report = db.session.get(Report, other)
        assert (report.status, report.resolution, report.duplicate_of_id) == ("closed", "duplicate", desk["report"])
        report.reopen(by=db.session.get(Editor, desk["eddie"]))
        db.session.commit()
        assert report.duplicate_of_id is None
    assert rows(app, sa.select(Event.from_value, Event.to_value).where(Event.kind == "duplicate_of")
                .order_by(Event.id)) == [(None, str(desk["report"])), (str(desk["report"]), None)]


@pytest.mark.parametrize("target, says", [
    (None, "Give the number of the report this one duplicates."),
    ("abc", "Give the number of the report this one duplicates."),
    ("self", "A report cannot be a duplicate of itself."),
    (999999, "There is no report #999999 on this site."),
    (10**30, "There is no report #"),
    ("weekly", "There is no report #"),
    ("loop", "is itself a duplicate of this one."),
])
def test_a_duplicate_must_name_another_report_of_the_same_site_without_a_loop(app, client, desk, site_key,
                                                                              make_site, target, says):
    weekly = make_site(name="Weekly News", origins=[ORIGIN])
    weekly_report = send(client, weekly, "assign-0000003") if target == "weekly" else None
    other = send(client, site_key, "assign-0000004", exact="another error")
    if target == "loop":  # other is a duplicate of the report; the report cannot be one of other
        close_as_duplicate(app, other, desk["report"], desk["eddie"])
    chosen = {"self": desk["report"], "weekly": weekly_report, "loop": other}.get(target, target)
    with app.app_context():
        report = db.session.get(Report, desk["report"])
        with pytest.raises(Refused, match=re.escape(says)):
            report.close("duplicate", by=db.session.get(Editor, desk["eddie"]), duplicate_of=chosen)
        db.session.rollback()
        assert db.session.get(Report, desk["report"]).status == "new"


def test_only_a_duplicate_names_another_report(app, client, desk, site_key):
    other = send(client, site_key, "assign-0000005", exact="another error")
    with app.app_context():
        with pytest.raises(Refused, match="Only a report closed as a duplicate"):
            db.session.get(Report, other).close("spam", by=db.session.get(Editor, desk["eddie"]),
                                                duplicate_of=desk["report"])


def test_the_report_page_has_the_assign_form_with_the_current_assignee_chosen(app, client, desk):
    assign(client, desk["report"], desk["nora"])
    page = client.get(f"/reports/{desk['report']}").text
    assert f'action="/reports/{desk["report"]}/assign"' in page
    assert f'<option value="{desk["nora"]}" selected>Nora Desk</option>' in page
    assert "Otto Out" not in page


def test_mine_reads_only_the_assigned_reports_however_many_are_unassigned(app, client, site_key):
    """The assignee index holds assigned reports only (migration 0012): with it whole, SQLite's
    statistics counted the unassigned reports' NULLs as one value held by nearly all of them,
    and "Mine" read every open report. The planner now takes the index on both databases."""
    first = send(client, site_key, "assign-many-0001")
    with app.app_context():
        columns = ("site_id, page_url, title, lang, article_id, article_section, article_author, "
                   "article_published, exact, prefix, suffix, position, status, submission_count, typo_count, "
                   "fact_count, link_count, other_count, notify_due, announced_count, created_at, updated_at, "
                   "last_submitted_at")
        db.session.execute(sa.text(
            "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 3000) "
            f"INSERT INTO report (group_key, anchor_key, page_key, {columns}) "
            f"SELECT 'g' || n, 'a' || n, 'p' || n, {columns} FROM report, numbers WHERE report.id = :id"), {"id": first})
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        mine = (sa.select(Report.id).where(Report.status.in_(("new", "confirmed")), Report.assignee_id == 1)
                .order_by(Report.id.desc()).limit(51))
        explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(
            explain + str(mine.compile(db.engine, compile_kwargs={"literal_binds": True})))))
    assert "ix_report_assignee_status_id" in plan, plan


# --- Taken off a site: the editor's reports there go back to "Unassigned" ---

WEEKLY = "https://weekly.example.com"


@pytest.fixture
def held(app, client, desk, site_key):
    """Eddie (on the Daily and the Weekly) holds an open and a closed Daily report and a Weekly
    one, each taken himself (no email owed); Nora holds another Daily report. Ada is logged in."""
    with app.app_context():
        weekly = db.session.scalar(sa.select(Site.key).where(Site.name == "Weekly"))
    ids = dict(desk, closed=send(client, site_key, "assign-held-0002", exact="another error"),
               noras=send(client, site_key, "assign-held-0003", exact="third error"),
               weekly=send(client, weekly, "assign-held-0004", origin=WEEKLY, url=WEEKLY + "/harbour",
                           canonical_url=WEEKLY + "/harbour"))
    with app.app_context():
        eddie, nora = db.session.get(Editor, desk["eddie"]), db.session.get(Editor, desk["nora"])
        for key in ("report", "closed", "weekly"):
            db.session.get(Report, ids[key]).assign(eddie, by=eddie)
        db.session.get(Report, ids["closed"]).close("spam", by=eddie)
        db.session.get(Report, ids["noras"]).assign(nora, by=nora)
        db.session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/account").text)})
    assert AuthActions(client).login("ada@example.com").status_code == 302
    return ids


def unassigned_by(app, report_ids):
    """The "unassigned" history entries of these reports: (report, by, from, to)."""
    return rows(app, sa.select(Event.report_id, Event.editor_id, Event.from_value, Event.to_value)
                .where(Event.kind == "assignee", Event.to_value.is_(None), Event.report_id.in_(report_ids))
                .order_by(Event.report_id))


def assert_eddie_lets_go_of_the_daily_only(app, held, by):
    assert [assignee(app, held[key]) for key in ("report", "closed", "weekly", "noras")] == [
        None, None, held["eddie"], held["nora"]]
    assert unassigned_by(app, [held[key] for key in ("report", "closed", "weekly", "noras")]) == [
        (held["report"], by, str(held["eddie"]), None), (held["closed"], by, str(held["eddie"]), None)]
    # Nobody is emailed about it.
    assert rows(app, sa.select(Delivery.id).where(Delivery.kind == "assigned")) == []


def test_taking_an_editor_off_a_site_unassigns_their_reports_there(app, client, held):
    [weekly_id] = rows(app, sa.select(Site.id).where(Site.name == "Weekly"))[0]
    token = csrf_token(client.get("/editors").text)
    response = client.post(f"/editors/{held['eddie']}/sites", data={"csrf_token": token, "site": str(weekly_id)},
                           follow_redirects=True)
    assert "editor@example.com now belongs to: Weekly." in response.text

    assert_eddie_lets_go_of_the_daily_only(app, held, held["ada"])
    assert f'href="/reports/{held["report"]}' in client.get("/reports?status=open&assignee=none").text
    assert f'href="/reports/{held["closed"]}' in client.get("/reports?status=closed&assignee=none").text
    assert re.search(r'<span class="who">Ada Admin</span>\s*unassigned it \(it was with Eddie Tor\)',
                     client.get(f"/reports/{held['report']}").text)
    [(detail,)] = rows(app, sa.select(AuditEntry.detail_json).where(AuditEntry.action == "editor_sites_changed"))
    assert json.loads(detail) == {"added": [], "removed": ["Daily"], "reports_unassigned": 2}


def test_taking_an_editor_off_a_site_with_the_cli_unassigns_their_reports_there(app, client, runner, held):
    result = runner.invoke(args=["editors", "sites", "editor@example.com", "--remove", "Daily"])
    assert result.exit_code == 0, result.output
    assert result.output == "editor@example.com: Weekly\n"

    assert_eddie_lets_go_of_the_daily_only(app, held, None)  # the command line names no editor
    assert f'href="/reports/{held["report"]}' in client.get("/reports?status=open&assignee=none").text
    assert re.search(r'<span class="who">An admin, on the command line,</span>\s*unassigned it \(it was with Eddie Tor\)',
                     client.get(f"/reports/{held['report']}").text)


def test_a_deactivated_editor_lets_go_of_every_report(app, client, held):
    token = csrf_token(client.get("/editors").text)
    client.post(f"/editors/{held['eddie']}/active", data={"csrf_token": token, "active": "0"})
    assert [assignee(app, held[key]) for key in ("report", "closed", "weekly", "noras")] == [
        None, None, None, held["nora"]]
    assert [by for _report, by, _from, _to in unassigned_by(app, [held["report"], held["closed"], held["weekly"]])] \
        == [held["ada"]] * 3
    assert rows(app, sa.select(Delivery.id).where(Delivery.kind == "assigned")) == []


def test_an_admin_made_an_editor_lets_go_of_the_sites_they_do_not_belong_to(app, client, runner, held,
                                                                            make_editor):
    """Only a change that takes a site out of sight moves reports: Eddie made an admin and back,
    Nora given the Weekly and taken off it again, keep all they hold."""
    boss_id = make_editor("boss@example.com", role="admin", name="Boss", sites=[])
    with app.app_context():  # an admin who belongs to no site: as an editor she sees none
        report, boss = db.session.get(Report, held["report"]), db.session.get(Editor, boss_id)
        report.assign(boss, by=boss)
        db.session.commit()
    for args in (["editors", "role", "editor@example.com", "admin"],
                 ["editors", "role", "editor@example.com", "editor"],
                 ["editors", "sites", "nora@example.com", "--add", "Weekly"],
                 ["editors", "sites", "nora@example.com", "--remove", "Weekly"],
                 ["editors", "role", "boss@example.com", "editor"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    assert [assignee(app, held[key]) for key in ("report", "closed", "weekly", "noras")] == [
        None, held["eddie"], held["eddie"], held["nora"]]
    assert unassigned_by(app, [held[key] for key in ("report", "closed", "weekly", "noras")]) == [
        (held["report"], None, str(boss_id), None)]


@pytest.mark.postgresql_only
def test_a_report_a_colleague_takes_meanwhile_stays_theirs(app, client, held, database_url):
    """Eddie is taken off the Daily while Nora takes one of his Daily reports in a transaction
    not yet committed: the admin's change waits for it, then finds the report Nora's, and
    leaves it to her (read unlocked, it would take it from her)."""
    import threading
    import time

    [weekly_id] = rows(app, sa.select(Site.id).where(Site.name == "Weekly"))[0]
    token = csrf_token(client.get("/editors").text)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    answer = {}

    def take_eddie_off_the_daily():
        answer["response"] = client.post(f"/editors/{held['eddie']}/sites",
                                         data={"csrf_token": token, "site": str(weekly_id)})

    admin = threading.Thread(target=take_eddie_off_the_daily, daemon=True)
    try:
        with engine.connect() as nora, engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            nora.execute(sa.text("UPDATE report SET assignee_id = :nora WHERE id = :id"),
                         {"nora": held["nora"], "id": held["report"]})
            admin.start()
            deadline = time.monotonic() + 30
            while not watcher.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                             "current_database() AND wait_event_type = 'Lock'")):
                assert time.monotonic() < deadline, "the admin's change never waited for Nora's"
                time.sleep(0.01)
            nora.commit()
    finally:
        engine.dispose()
        admin.join(30)
    assert not admin.is_alive() and answer["response"].status_code == 302
    assert [assignee(app, held[key]) for key in ("report", "closed")] == [held["nora"], None]
    assert unassigned_by(app, [held["report"], held["closed"]]) == [
        (held["closed"], held["ada"], str(held["eddie"]), None)]
