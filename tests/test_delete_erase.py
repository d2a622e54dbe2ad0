"""An admin deletes a report, or erases one reader's submission at their request: everything
about it goes, links to it are cleared, counts are recounted, and the audit trail says who
did it without keeping any of the erased text."""

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, csrf_token, report_body, rows
from copydesk import checks
from copydesk.db import db
from copydesk.models import AuditEntry, Editor, Event, Refused, Report, SenderBlock, Submission, utcnow
from copydesk.notify.models import Delivery, DeliveryItem


def send(client, site_key, key, **fields):
    response = client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=key, **fields),
                           headers={"Origin": ORIGIN})
    assert response.status_code == 201, response.text
    return response.json["id"]


def login(client, email, password="correct horse battery"):
    page = client.get("/login")
    assert client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(page.text)}).status_code == 302


@pytest.fixture
def admin_id(make_editor):
    return make_editor("ada@example.com", name="Ada Admin", role="admin")


@pytest.fixture
def report_id(app, client, site_key):
    """A report sent by three readers (two said typo, one fact), with a secret in a comment."""
    report = send(client, site_key, "erase-00000001", kind="typo", comment="my secret comment")
    send(client, site_key, "erase-00000002", kind="typo", suggestion="principal")
    send(client, site_key, "erase-00000003", kind="fact")
    return report


def submission_ids(app):
    return {key: sid for sid, key in rows(app, sa.select(Submission.id, Submission.idempotency_key))}


def audit(app):
    return rows(app, sa.select(AuditEntry.action, AuditEntry.editor_id, AuditEntry.detail_json)
                .where(AuditEntry.action.not_like("login%")).order_by(AuditEntry.id))


def test_erasing_a_submission_recounts_its_report_and_keeps_none_of_its_text(app, client, report_id, admin_id):
    login(client, "ada@example.com")
    erased = submission_ids(app)["erase-00000001"]
    page = client.get(f"/reports/{report_id}/submissions/{erased}/erase")
    assert page.status_code == 200 and "my secret comment" in page.text

    response = client.post(f"/reports/{report_id}/submissions/{erased}/erase",
                           data={"csrf_token": csrf_token(page.text)})

    assert response.status_code == 302 and response.headers["Location"] == f"/reports/{report_id}"
    assert "The submission was erased." in client.get(response.headers["Location"]).text
    assert sorted(submission_ids(app)) == ["erase-00000002", "erase-00000003"]
    assert rows(app, sa.select(Report.submission_count, Report.typo_count, Report.fact_count)) == [(2, 1, 1)]
    [(action, editor_id, detail)] = audit(app)
    assert (action, editor_id) == ("submission_erased", admin_id)
    assert "secret" not in detail and "principle" not in detail


def test_erasing_the_last_submission_deletes_the_report(app, client, site_key, admin_id):
    only = send(client, site_key, "alone-00000001", exact="lonely error")
    login(client, "ada@example.com")
    [sid] = submission_ids(app).values()
    page = client.get(f"/reports/{only}/submissions/{sid}/erase")
    assert "the report is deleted with it" in page.text

    response = client.post(f"/reports/{only}/submissions/{sid}/erase", data={"csrf_token": csrf_token(page.text)})

    assert response.headers["Location"] == "/reports"
    assert rows(app, sa.select(Report.id)) == []
    assert [entry[0] for entry in audit(app)] == ["submission_erased", "report_deleted"]
    assert all("lonely" not in entry[2] for entry in audit(app))


def test_a_thank_you_owed_to_an_erased_reader_is_cancelled(app, client, report_id, admin_id):
    with app.app_context():
        submission = db.session.get(Submission, submission_ids(app)["erase-00000001"])
        db.session.add(Delivery(kind="reader-thanks", channel="email", recipient_key="reader:1",
                                submission_id=submission.id, site_id=submission.site_id,
                                items=[DeliveryItem(report_id=report_id)]))
        db.session.commit()
        submission.erase(by=db.session.get(Editor, admin_id))
        db.session.commit()
    assert rows(app, sa.select(Delivery.state, Delivery.submission_id)) == [("cancelled", None)]


def test_deleting_a_report_takes_everything_about_it_and_clears_links_to_it(app, client, site_key, report_id,
                                                                           admin_id):
    later = send(client, site_key, "later-00000001", exact="another error")
    other = send(client, site_key, "other-00000001", exact="third error")
    with app.app_context():
        admin = db.session.get(Editor, admin_id)
        report = db.session.get(Report, report_id)
        report.add_note("looked at it", by=admin)
        db.session.add(checks.CheckRequest(report_id=report_id))
        db.session.add(checks.PageCheck(report_id=report_id, state="unknown"))
        db.session.add(SenderBlock(site_id=report.site_id, ip_hash="f" * 32, until=utcnow(), report_id=report_id))
        # Owed: a message about this report alone, and a digest about it and another report.
        db.session.add(Delivery(kind="report", channel="email", recipient_key="a", site_id=report.site_id,
                                items=[DeliveryItem(report_id=report_id)]))
        db.session.add(Delivery(kind="digest", channel="email", recipient_key="b", site_id=report.site_id,
                                mode="daily", items=[DeliveryItem(report_id=report_id),
                                                     DeliveryItem(report_id=other)]))
        db.session.get(Report, later).previous_report_id = report_id
        db.session.get(Report, other).close("duplicate", by=admin, duplicate_of=report_id)
        db.session.commit()

    login(client, "ada@example.com")
    page = client.get(f"/reports/{report_id}/delete")
    assert page.status_code == 200 and "3 submissions" in page.text
    response = client.post(f"/reports/{report_id}/delete", data={"csrf_token": csrf_token(page.text)})

    assert response.status_code == 302 and response.headers["Location"] == "/reports"
    assert f"Report #{report_id} was deleted" in client.get("/account").text
    assert client.get(f"/reports/{report_id}").status_code == 404
    for table in (Submission, Event.__table__, checks.CheckRequest, checks.PageCheck):
        column = table.c.report_id if hasattr(table, "c") else table.report_id
        assert rows(app, sa.select(sa.func.count()).where(column == report_id)) == [(0,)]
    assert rows(app, sa.select(Report.id, Report.previous_report_id, Report.duplicate_of_id).order_by(Report.id)) \
        == [(later, None, None), (other, None, None)]
    assert rows(app, sa.select(SenderBlock.report_id)) == [(None,)]
    assert rows(app, sa.select(Delivery.kind, Delivery.state).order_by(Delivery.id)) == [
        ("report", "cancelled"), ("digest", "pending")]
    assert rows(app, sa.select(DeliveryItem.report_id)) == [(other,)]
    [entry] = [e for e in audit(app) if e[0] == "report_deleted"]
    assert entry[1] == admin_id and '"submissions": 3' in entry[2]
    assert "principle" not in entry[2] and "secret" not in entry[2]


@pytest.mark.parametrize("path", ["/reports/{report}/delete", "/reports/{report}/submissions/{submission}/erase"])
def test_editors_may_not_delete_or_erase(app, client, report_id, make_editor, path):
    make_editor()
    login(client, "editor@example.com")
    url = path.format(report=report_id, submission=submission_ids(app)["erase-00000001"])
    token = csrf_token(client.get("/account").text)
    assert client.get(url).status_code == 403
    assert client.post(url, data={"csrf_token": token}).status_code == 403
    assert len(submission_ids(app)) == 3


def test_the_model_refuses_editors_too(app, report_id, make_editor):
    editor_id = make_editor()
    with app.app_context():
        editor = db.session.get(Editor, editor_id)
        with pytest.raises(Refused):
            db.session.get(Report, report_id).delete(by=editor)
        with pytest.raises(Refused):
            db.session.get(Submission, submission_ids(app)["erase-00000001"]).erase(by=editor)


def test_a_submission_of_another_report_is_a_404(app, client, site_key, report_id, admin_id):
    other = send(client, site_key, "other-00000002", exact="another error")
    login(client, "ada@example.com")
    sid = submission_ids(app)["other-00000002"]
    assert client.get(f"/reports/{report_id}/submissions/{sid}/erase").status_code == 404
    assert client.get(f"/reports/{other}/submissions/99999/erase").status_code == 404
    assert client.get("/reports/99999/delete").status_code == 404


def test_the_report_page_offers_delete_and_erase_to_admins_only(app, client, report_id, admin_id, make_editor):
    make_editor()
    login(client, "editor@example.com")
    page = client.get(f"/reports/{report_id}").text
    assert "Delete this report" not in page and "/erase" not in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    login(client, "ada@example.com")
    page = client.get(f"/reports/{report_id}").text
    assert f'href="/reports/{report_id}/delete"' in page
    assert page.count(f"/reports/{report_id}/submissions/") == 3


def test_an_admin_deletes_a_report_in_the_browser(live_server, page, make_editor, site_key):
    from playwright.sync_api import expect
    make_editor("ada@example.com", name="Ada Admin", role="admin")
    report = send(live_server.app.test_client(), site_key, "browser-000001")
    errors, failed = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/reports/{report}")

    page.get_by_role("link", name="Delete this report…").click()
    expect(page.get_by_role("heading", name=f"Delete report #{report}?")).to_be_visible()
    page.get_by_role("button", name="Delete the report").click()

    expect(page.get_by_text(f"Report #{report} was deleted with its submissions and history.")).to_be_visible()
    assert rows(live_server.app, sa.select(Report.id)) == []
    # No CSP violation, no script error; a browser's own favicon request may 404.
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [text for text in errors if not text.startswith("Failed to load resource")] == []
