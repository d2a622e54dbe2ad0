"""Who may see a site is one rule (``Editor.sees_site``, and ``Editor.seeing_site`` in SQL),
and nothing about a site reaches an editor who may no longer see it: what is owed is
cancelled when they are taken off the site, and checked again when it is sent."""

import pytest
import sqlalchemy as sa

from conftest import csrf_token, report_body, rows
from copydesk.db import db
from copydesk.models import Editor, Site, utcnow
from copydesk.notify import deliveries
from copydesk.notify.models import Delivery, Preference, Rule

WEEKLY = "https://weekly.example.com"
TAKEN_OFF = "The editor was taken off the site."


@pytest.fixture
def desk(app, client, auth, make_site, make_editor, site_key):
    """Daily and Weekly, each with the "everyone" rule; Nora edits both (Daily at once,
    Weekly in the hourly digest); Ada (admin, logged in) hears the Daily at once; a report
    on each site, planned; the Daily one assigned to Nora."""
    weekly = make_site(name="Weekly", origins=[WEEKLY])
    ids = {"ada": make_editor("ada@example.com", role="admin", name="Ada Admin", sites=[]),
           "nora": make_editor("nora@example.com", name="Nora Desk", sites=[site_key, weekly])}
    with app.app_context():
        daily_site, weekly_site = Site.find(site_key), Site.find(weekly)
        ids.update(daily=daily_site.id, weekly=weekly_site.id)
        for site in (daily_site, weekly_site):
            db.session.add_all(Rule.for_new_site(site))
        nora, ada = db.session.get(Editor, ids["nora"]), db.session.get(Editor, ids["ada"])
        Preference.choose(nora, daily_site.id, "instant")
        Preference.choose(nora, weekly_site.id, "hourly")
        Preference.choose(ada, daily_site.id, "instant")
        Preference.choose(ada, weekly_site.id, "off")
        db.session.commit()
    ids["report"] = file_report(client, report_body(site_key, idempotency_key="member-0000001"))
    file_report(client, report_body(weekly, idempotency_key="member-0000002", url=WEEKLY + "/2026/11/harbour",
                                    canonical_url=WEEKLY + "/2026/11/harbour"), origin=WEEKLY)
    with app.app_context():
        deliveries.plan()
    assert auth.login("ada@example.com").status_code == 302
    page = client.get(f"/reports/{ids['report']}")
    response = client.post(f"/reports/{ids['report']}/assign",
                           data={"editor": str(ids["nora"]), "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    return ids


def file_report(client, body, origin="https://daily.example.com"):
    response = client.post("/api/v1/reports", json=body, headers={"Origin": origin})
    assert response.status_code == 201, response.text
    return response.json["id"]


def owed_to(app, editor_id):
    """(kind, site id, state, last error) of everything planned for the editor."""
    return sorted(rows(app, sa.select(Delivery.kind, Delivery.site_id, Delivery.state, Delivery.last_error)
                       .where(Delivery.editor_id == editor_id)))


def set_sites(client, editor_id, site_ids):
    token = csrf_token(client.get("/editors").text)
    response = client.post(f"/editors/{editor_id}/sites",
                           data={"site": [str(site_id) for site_id in site_ids], "csrf_token": token})
    assert response.status_code == 302


def send_everything_now(app, smtp_server):
    """Run the worker against the real SMTP server with every pending delivery due now
    (digests included)."""
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    app.config["PUBLIC_URL"] = "https://desk.example.com"
    with app.app_context():
        db.session.execute(sa.update(Delivery).where(Delivery.state == "pending").values(next_attempt_at=utcnow()))
        db.session.commit()
    return Worker(app).run_once()


def test_taking_an_editor_off_a_site_cancels_what_is_owed_about_it_and_nothing_reaches_them(
        app, client, desk, smtp_server):
    d, w = desk["daily"], desk["weekly"]
    assert owed_to(app, desk["nora"]) == [("assigned", d, "pending", ""), ("digest", w, "pending", ""),
                                          ("report", d, "pending", "")]

    set_sites(client, desk["nora"], [d])  # off the Weekly: its digest goes, the Daily's mail stays
    assert owed_to(app, desk["nora"]) == [("assigned", d, "pending", ""), ("digest", w, "cancelled", TAKEN_OFF),
                                          ("report", d, "pending", "")]

    set_sites(client, desk["nora"], [])
    assert owed_to(app, desk["nora"]) == [("assigned", d, "cancelled", TAKEN_OFF),
                                          ("digest", w, "cancelled", TAKEN_OFF), ("report", d, "cancelled", TAKEN_OFF)]

    outcomes = send_everything_now(app, smtp_server)
    assert [(o.kind, o.state) for o in outcomes] == [("report", "sent")]  # the admin's own mail still goes
    assert [mail.recipients for mail in smtp_server.mails] == [["ada@example.com"]]


def test_a_mail_planned_before_an_admin_became_an_outsider_is_not_sent(app, client, desk, make_editor,
                                                                        smtp_server):
    """Ada, an admin, is made a plain editor of no site after her Daily mail was planned:
    nothing cancelled it then, and the send-time check stops it."""
    make_editor("boss@example.com", role="admin", sites=[])
    with app.app_context():
        db.session.execute(sa.delete(Delivery).where(Delivery.editor_id == desk["nora"]))
        db.session.commit()
    token = csrf_token(client.get("/editors").text)
    assert client.post(f"/editors/{desk['ada']}/role", data={"role": "editor", "csrf_token": token}
                       ).status_code == 302
    assert owed_to(app, desk["ada"]) == [("report", desk["daily"], "pending", "")]

    outcomes = send_everything_now(app, smtp_server)

    assert [(o.kind, o.state) for o in outcomes] == [("report", "cancelled")]
    assert owed_to(app, desk["ada"]) == [("report", desk["daily"], "cancelled",
                                          "The editor was taken off the site before it went out.")]
    assert smtp_server.mails == []


def test_a_rules_test_mail_reaches_only_editors_who_see_the_site(app, desk, make_editor):
    make_editor("otto@example.com", sites=[])
    with app.app_context():
        rule = db.session.scalar(sa.select(Rule).where(Rule.site_id == desk["weekly"]))
        assert rule.addresses() == ["nora@example.com"]  # Ada turned the Weekly off; Otto is not on it


def test_sees_site_and_its_sql_form_agree(app, desk, make_editor):
    """The one rule, in Python and in SQL: admins see every site, editors their own, and an
    inactive account sees none."""
    make_editor("otto@example.com", sites=[])
    make_editor("gone@example.com", role="admin", sites=[])
    with app.app_context():
        db.session.execute(sa.update(Editor).where(Editor.email == "gone@example.com").values(active=False))
        db.session.commit()
        editors = db.session.scalars(sa.select(Editor).order_by(Editor.email)).all()
        for site_id in (desk["daily"], desk["weekly"]):
            in_sql = set(db.session.scalars(sa.select(Editor.email).where(Editor.seeing_site(site_id))))
            assert in_sql == {e.email for e in editors if e.sees_site(site_id)}
            assert in_sql == {"ada@example.com", "nora@example.com"}
