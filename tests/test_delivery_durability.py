"""Nothing lost, nothing doubled: a worker SIGKILLed mid-send, a mail server down for a
while, a webhook answering 500, retries that run out, an admin's retry, and two workers
sharing a thousand deliveries on PostgreSQL."""

import collections
import re
import signal
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import rows
from copydesk.db import db
from copydesk.models import Report, Site, utcnow
from copydesk.notify import deliveries
from copydesk.notify.models import Delivery, DeliveryItem
from test_worker import add_rule, mail_env, post, start_worker, states  # noqa: F401 (start_worker: a fixture)

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def wait_until(check, timeout=30, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    raise AssertionError(f"not true after {timeout} s: {check}")


def public_ids(app):
    return sorted(public_id for (public_id,) in rows(app, sa.select(Delivery.public_id)))


def message_ids(mails):
    return sorted(mail.header("Message-ID").strip("<>").split("@")[0] for mail in mails)


def test_worker_killed_mid_send_and_restarted_sends_each_email_once(app, client, site_key, smtp_server,
                                                                    start_worker):
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    for number in range(1, 4):
        post(client, site_key, number, exact=f"error {number}", prefix="", suffix="")
    smtp_server.holding.set()  # the server takes each message but does not answer yet
    # Timeout 3 s: the claim lapses 2 × 3 + 10 = 16 s after it was made.
    env = mail_env(smtp_server, NOTIFY_TIMEOUT_SECONDS="3")
    first = start_worker(env=env)
    wait_until(lambda: [state for state, _ in states(app)] == ["sending"] * 3)
    time.sleep(1)  # the messages are at the server, waiting for its 250
    first.stop(signal.SIGKILL)
    smtp_server.holding.clear()
    time.sleep(0.5)
    assert smtp_server.mails == []  # the server drops a message whose sender vanished before its answer
    started = time.monotonic()
    second = start_worker(env=env)
    mails = smtp_server.wait_for(3, timeout=40)
    # Sent again only when the dead worker's claim lapsed, not while it might still be sending.
    assert time.monotonic() - started > 8
    wait_until(lambda: [state for state, _ in states(app)] == ["sent"] * 3)
    time.sleep(1.5)  # a second copy would have arrived by now
    assert len(smtp_server.mails) == 3
    assert message_ids(smtp_server.mails) == public_ids(app)  # each once, by Message-ID
    assert [attempts for _, attempts in states(app)] == [2, 2, 2]
    assert second.stop() == 0
    assert mails


def test_mail_server_down_for_a_while_then_each_email_arrives_once(app, client, site_key, smtp_server,
                                                                   start_worker):
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    for number in range(1, 4):
        post(client, site_key, number, exact=f"error {number}", prefix="", suffix="")
    smtp_server.stop()
    worker = start_worker(env=mail_env(smtp_server))
    # Several failed attempts, backing off; the error is kept for admins.
    wait_until(lambda: all(state == "pending" and attempts >= 3 for state, attempts in states(app)))
    errors = rows(app, sa.select(Delivery.last_error))
    assert all(error and "desk@example.com" not in error for (error,) in errors)
    smtp_server.start()
    smtp_server.wait_for(3)
    wait_until(lambda: [state for state, _ in states(app)] == ["sent"] * 3)
    time.sleep(1.5)
    assert len(smtp_server.mails) == 3
    assert message_ids(smtp_server.mails) == public_ids(app)
    assert rows(app, sa.select(Delivery.last_error)) == [("",)] * 3
    assert worker.stop() == 0


def test_webhook_answering_500_is_retried_with_the_same_webhook_id(app, client, site_key, http_receiver,
                                                                   start_worker):
    add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/hook", secret=SECRET)
    post(client, site_key)
    http_receiver.fail_next(2, 500)
    worker = start_worker()
    requests = http_receiver.wait_for(3)
    wait_until(lambda: states(app) == [("sent", 3)])
    [public_id] = public_ids(app)
    assert [request.headers["webhook-id"] for request in requests] == [public_id] * 3
    assert worker.stop() == 0


def test_a_permanent_refusal_is_not_retried(app, client, site_key, http_receiver, start_worker):
    add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/gone", secret=SECRET)
    post(client, site_key)
    http_receiver.fail_next(1, 410)
    worker = start_worker()
    wait_until(lambda: states(app) == [("failed", 1)])
    time.sleep(1)
    assert len(http_receiver.requests) == 1
    [(error,)] = rows(app, sa.select(Delivery.last_error))
    assert "410" in error
    assert worker.stop() == 0


def test_retries_give_up_after_the_give_up_time_and_an_admin_retry_sends_it(app, client, site_key,
                                                                            http_receiver, start_worker):
    add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/hook", secret=SECRET)
    post(client, site_key)
    http_receiver.fail_next(1000, 503)
    # 0.001 hours: 3.6 s of retries.
    worker = start_worker(env={"NOTIFY_GIVE_UP_HOURS": "0.001"})
    wait_until(lambda: [state for state, _ in states(app)] == ["failed"])
    [(error, attempts)] = rows(app, sa.select(Delivery.last_error, Delivery.attempts))
    assert attempts >= 3 and error.startswith(f"Gave up after {attempts} attempt(s)") and "503" in error
    tried = len(http_receiver.requests)
    time.sleep(1)
    assert len(http_receiver.requests) == tried  # given up: no more tries
    http_receiver.failures.clear()
    with app.app_context():
        assert deliveries.retry(db.session.scalar(sa.select(Delivery)))
    wait_until(lambda: states(app) == [("sent", attempts + 1)])
    assert len(http_receiver.requests) == tried + 1
    assert rows(app, sa.select(Delivery.last_error)) == [("",)]
    assert worker.stop() == 0


@pytest.mark.postgresql_only
def test_two_workers_share_a_thousand_deliveries_each_sent_once(app, client, site_key, http_receiver,
                                                                 start_worker):
    rule = add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/hook", secret=SECRET)
    report_id = post(client, site_key)
    with app.app_context():
        db.session.execute(sa.update(Report).values(notify_due=False))
        site_id = Site.find(site_key).id
        later = utcnow() + timedelta(hours=1)  # due once both workers run: neither gets them all by starting first
        db.session.add_all(Delivery(site_id=site_id, rule_id=rule, channel="webhook", recipient=http_receiver.url,
                                    recipient_key=f"rule:{rule}", due_at=later, next_attempt_at=later,
                                    items=[DeliveryItem(report_id=report_id)]) for _ in range(1000))
        db.session.commit()
    # A generous timeout: a webhook timing out under load is (rightly) sent again, and this
    # test counts sends.
    workers = [start_worker(env={"NOTIFY_TIMEOUT_SECONDS": "20"}) for _ in range(2)]
    wait_until(lambda: all(re.search(r"worker \S+ started", worker.log()) for worker in workers), timeout=60)
    with app.app_context():
        now = utcnow() - timedelta(seconds=1)
        db.session.execute(sa.update(Delivery).values(due_at=now, next_attempt_at=now))
        db.session.commit()
    http_receiver.wait_for(1000, timeout=120)
    wait_until(lambda: rows(app, sa.select(sa.func.count()).where(Delivery.state == "sent")) == [(1000,)],
               timeout=60)
    time.sleep(1)
    ids = collections.Counter(request.headers["webhook-id"] for request in http_receiver.requests)
    assert len(http_receiver.requests) == 1000
    assert sorted(ids) == public_ids(app) and set(ids.values()) == {1}
    # Both took a share.
    shares = [len(re.findall(r": sent after \d+ attempt", worker.log())) for worker in workers]
    assert sum(shares) == 1000 and min(shares) > 0, shares
    assert [worker.stop() for worker in workers] == [0, 0]


def test_a_send_slower_than_its_lease_is_not_claimed_again_meanwhile(app, client, site_key, smtp_server,
                                                                     monkeypatch):
    """A mail server that takes longer than the lease to answer (greylisting, tarpitting):
    the send renews its lease, so the same worker's next round does not send it again."""
    import threading

    from copydesk.worker import Worker
    monkeypatch.setattr(deliveries, "lease_seconds", lambda: 1.5)
    app.config.update(SMTP_URL=smtp_server.url, NOTIFY_TIMEOUT_SECONDS=20)
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    post(client, site_key)
    worker = Worker(app)
    smtp_server.holding.set()
    first = threading.Thread(target=worker.run_once)
    first.start()
    wait_until(lambda: states(app) == [("sending", 1)])
    time.sleep(3.5)  # more than twice the lease, and the server has not answered yet
    later = []  # the next round: nothing to claim
    second = threading.Thread(target=lambda: later.extend(worker.run_once()))
    second.start()
    second.join(5)
    smtp_server.holding.clear()
    first.join(30)
    second.join(30)
    wait_until(lambda: states(app) == [("sent", 1)])
    time.sleep(1)
    assert later == []
    assert len(smtp_server.mails) == 1
