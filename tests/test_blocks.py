"""Spam blocks, through the real API: a blocked sender is answered as if accepted and
nothing of theirs is stored; other senders, other sites and ended blocks are unaffected;
admins see and lift blocks."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, csrf_token, report_body, rows
from copydesk import blocks
from copydesk.db import db
from copydesk.intake import hash_ip
from copydesk.models import AuditEntry, Editor, Refused, Report, SenderBlock, Submission, utcnow
from copydesk.notify.models import Delivery

SPAMMER, READER = "203.0.113.66", "198.51.100.7"


def send(client, site_key, key, ip=SPAMMER, **fields):
    return client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=key, **fields),
                       headers={"Origin": ORIGIN}, environ_base={"REMOTE_ADDR": ip})


def counts(app):
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Report)),
                db.session.scalar(sa.select(sa.func.count()).select_from(Submission)),
                db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)))


@pytest.fixture
def admin_id(make_editor):
    return make_editor("ada@example.com", name="Ada Admin", role="admin")


@pytest.fixture
def spam(app, client, site_key, admin_id):
    """A report from SPAMMER, closed as spam and its sender blocked for a day; answers its id."""
    response = send(client, site_key, "spam-000000001", exact="buy pills")
    with app.app_context():
        report = db.session.get(Report, response.json["id"])
        admin = db.session.get(Editor, admin_id)
        report.close("spam", by=admin)
        assert blocks.block_sender(report, 24, by=admin) == 1
        db.session.commit()
        return report.id


def test_a_blocked_senders_send_is_answered_like_an_accepted_one_and_stored_nowhere(app, client, site_key, spam):
    before = counts(app)

    blocked = send(client, site_key, "spam-000000002", exact="a brand new error")
    fresh = send(client, site_key, "real-000000001", ip=READER, exact="yet another error")

    assert blocked.status_code == fresh.status_code == 201
    assert blocked.headers["Content-Type"] == fresh.headers["Content-Type"]
    assert sorted(blocked.json) == sorted(fresh.json) == ["count", "id", "joined"]
    assert (blocked.json["joined"], blocked.json["count"]) == (False, 1)
    assert blocked.json["id"] > spam
    # Only the other reader's report and submission were stored (and its announcement is due).
    assert counts(app) == (before[0] + 1, before[1] + 1, before[2])
    assert rows(app, sa.select(Submission.idempotency_key).order_by(Submission.id)) == [
        ("spam-000000001",), ("real-000000001",)]
    with app.app_context():
        spammer = hash_ip(SPAMMER)
    assert rows(app, sa.select(SenderBlock.report_id, SenderBlock.ip_hash)) == [(spam, spammer)]


def test_a_blocked_senders_replay_answers_the_same(app, client, site_key, spam):
    first = send(client, site_key, "spam-000000003", exact="a brand new error")
    again = send(client, site_key, "spam-000000003", exact="a brand new error")
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    # A send accepted before the block is answered as then.
    original = send(client, site_key, "spam-000000001", exact="buy pills")
    assert (original.status_code, original.json["id"], original.json["joined"]) == (201, spam, False)
    assert rows(app, sa.select(sa.func.count()).select_from(Submission)) == [(1,)]


def test_a_blocked_senders_repeats_count_on_as_a_readers_would(app, client, site_key, spam):
    error = {"exact": "an error readers keep seeing"}
    first = send(client, site_key, "real-000000002", ip=READER, **error)
    seen = [send(client, site_key, f"spam-00000001{n}", **error).json for n in range(2)]
    assert [(answer["id"], answer["joined"], answer["count"]) for answer in seen] == [
        (first.json["id"], True, 2), (first.json["id"], True, 3)]
    # A reader repeating it next is stored; the count told meanwhile never went down.
    reader = send(client, site_key, "real-000000003", ip="192.0.2.9", **error).json
    assert (reader["id"], reader["count"]) == (first.json["id"], 2)
    after = send(client, site_key, "spam-000000012", **error).json
    assert after["count"] == 4
    # A replay answers as the first time.
    assert send(client, site_key, "spam-000000010", **error).json == seen[0]
    assert rows(app, sa.select(Report.submission_count).where(Report.id == first.json["id"])) == [(2,)]


def test_a_block_holds_on_its_own_site_only(app, client, site_key, make_site, spam):
    other = make_site(name="Weekly", origins=[ORIGIN.replace("daily", "weekly")])
    response = client.post("/api/v1/reports", headers={"Origin": "https://weekly.example.com"},
                           json=report_body(other, idempotency_key="spam-000000004",
                                            url="https://weekly.example.com/a", canonical_url=None),
                           environ_base={"REMOTE_ADDR": SPAMMER})
    assert response.status_code == 201
    assert rows(app, sa.select(Submission.idempotency_key).where(Submission.idempotency_key == "spam-000000004")) \
        == [("spam-000000004",)]


def test_an_ended_block_no_longer_blocks(app, client, site_key, spam):
    with app.app_context():
        db.session.execute(sa.update(SenderBlock).values(until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = send(client, site_key, "spam-000000005", exact="a brand new error")
    assert response.status_code == 201
    assert rows(app, sa.select(Report.id).where(Report.id == response.json["id"])) == [(response.json["id"],)]


def test_blocking_again_extends_and_never_shortens(app, spam, admin_id):
    with app.app_context():
        report, admin = db.session.get(Report, spam), db.session.get(Editor, admin_id)
        blocks.block_sender(report, 24 * 30, by=admin)
        blocks.block_sender(report, 1, by=admin)
        db.session.commit()
        [block] = db.session.scalars(sa.select(SenderBlock)).all()
        assert block.until > utcnow() + timedelta(days=29)


@pytest.mark.parametrize("hours", [0, -1, 24 * 366, "24", 1.5, True, None])
def test_a_block_needs_a_length_from_an_hour_to_a_year(app, spam, admin_id, hours):
    with app.app_context():
        with pytest.raises(Refused, match="from an hour to a year"):
            blocks.block_sender(db.session.get(Report, spam), hours, by=db.session.get(Editor, admin_id))


def test_the_longest_block_is_the_longest_the_close_form_offers(app, spam, admin_id):
    from copydesk.schemas import ReportActionSchema
    with app.app_context():
        longest = max(blocks.BLOCK_HOURS)
        blocks.block_sender(db.session.get(Report, spam), longest, by=db.session.get(Editor, admin_id))
        assert ReportActionSchema().load({"action": "close", "resolution": "spam",
                                          "block_hours": str(longest)})["block_hours"] == longest


def test_a_submission_without_an_address_is_skipped(app, client, site_key, admin_id):
    response = send(client, site_key, "noip-000000001")
    with app.app_context():
        db.session.execute(sa.update(Submission).values(ip_hash=None))
        report = db.session.get(Report, response.json["id"])
        assert blocks.block_sender(report, 24, by=db.session.get(Editor, admin_id)) == 0
        db.session.commit()
    assert rows(app, sa.select(SenderBlock.id)) == []


def test_blocking_is_audited_without_the_address(app, spam, admin_id):
    [(action, editor_id, detail)] = rows(app, sa.select(AuditEntry.action, AuditEntry.editor_id,
                                                        AuditEntry.detail_json)
                                         .where(AuditEntry.action == "sender_blocked"))
    assert (action, editor_id) == ("sender_blocked", admin_id)
    with app.app_context():
        assert '"senders": 1' in detail and hash_ip(SPAMMER) not in detail


def login(client, email, password="correct horse battery"):
    page = client.get("/login")
    assert client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(page.text)}).status_code == 302


def test_admins_see_and_lift_blocks(app, client, site_key, spam, admin_id):
    login(client, "ada@example.com")
    page = client.get("/blocks")
    assert page.status_code == 200
    assert "Daily" in page.text and f'href="/reports/{spam}"' in page.text and "Ada Admin" in page.text
    [block_id] = [row[0] for row in rows(app, sa.select(SenderBlock.id))]

    response = client.post(f"/blocks/{block_id}/lift", data={"csrf_token": csrf_token(page.text)})

    assert response.status_code == 302
    assert "The block was lifted" in client.get("/blocks").text
    assert "No sender is blocked." in client.get("/blocks").text
    assert rows(app, sa.select(SenderBlock.id)) == []
    assert rows(app, sa.select(AuditEntry.action).where(AuditEntry.action == "sender_unblocked")) == [
        ("sender_unblocked",)]
    after = send(client, site_key, "spam-000000006", exact="a brand new error")
    assert rows(app, sa.select(Report.id).where(Report.id == after.json["id"])) == [(after.json["id"],)]


def test_a_deleted_reports_block_stays_and_says_so(app, client, spam, admin_id):
    with app.app_context():
        db.session.get(Report, spam).delete(by=db.session.get(Editor, admin_id))
        db.session.commit()
    login(client, "ada@example.com")
    page = client.get("/blocks")
    assert "deleted" in page.text and f"/reports/{spam}" not in page.text


def test_editors_may_not_see_or_lift_blocks(app, client, spam, make_editor):
    make_editor()
    login(client, "editor@example.com")
    assert client.get("/blocks").status_code == 403
    token = csrf_token(client.get("/account").text)
    [block_id] = [row[0] for row in rows(app, sa.select(SenderBlock.id))]
    assert client.post(f"/blocks/{block_id}/lift", data={"csrf_token": token}).status_code == 403
    assert rows(app, sa.select(SenderBlock.id)) == [(block_id,)]


def test_lifting_a_block_that_is_gone_is_a_404(app, client, spam):
    login(client, "ada@example.com")
    token = csrf_token(client.get("/blocks").text)
    assert client.post("/blocks/99999/lift", data={"csrf_token": token}).status_code == 404


def test_spam_and_block_says_how_many_senders_it_blocked(app, client, site_key, admin_id):
    error = {"exact": "a spammed error"}
    [first, *_rest] = [send(client, site_key, f"many-00000000{n}", ip=ip, **error).json["id"]
                       for n, ip in enumerate([SPAMMER, READER, "192.0.2.9", SPAMMER])]
    login(client, "ada@example.com")
    token = csrf_token(client.get(f"/reports/{first}").text)

    response = client.post(f"/reports/{first}/action", headers={"Accept": "application/json"},
                           data={"csrf_token": token, "action": "close", "resolution": "spam", "block_hours": "168"})

    assert response.status_code == 200
    assert response.json["message"] == "Closed as spam; 3 senders blocked on this site for 7 days."
    assert len(rows(app, sa.select(SenderBlock.id))) == 3


def test_spam_and_block_of_one_sender_says_so_in_the_flash(app, client, site_key, admin_id):
    [report_id] = [send(client, site_key, "once-000000001", exact="one spammed error").json["id"]]
    login(client, "ada@example.com")
    token = csrf_token(client.get(f"/reports/{report_id}").text)

    response = client.post(f"/reports/{report_id}/action", follow_redirects=True,
                           data={"csrf_token": token, "action": "close", "resolution": "spam",
                                 "block_hours": str(24 * 365)})

    assert response.status_code == 200
    assert "Closed as spam; 1 sender blocked on this site for 1 year." in response.text
