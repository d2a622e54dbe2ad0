"""``copydesk worker``: reports filed through the API arrive as email; jobs run once per
period however many workers run; signals, orphans, old schemas; ``copydesk serve`` and
``copydesk run`` run a worker child and stop it with them."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from conftest import ORIGIN, TEST_LIMITS, TEST_SECRET_KEY, free_port, report_body, rows
from copydesk.db import db
from copydesk.models import Report, Site, Submission, utcnow
from copydesk.notify import deliveries
from copydesk.notify.models import Delivery, DeliveryItem, Job, Rule

COPYDESK = str(Path(sys.executable).parent / "copydesk")
# Quick retries and polls so the tests wait seconds, not minutes.
FAST = {"NOTIFY_RETRY_SECONDS": "0.3", "NOTIFY_RETRY_MAX_SECONDS": "1", "WORKER_POLL_SECONDS": "0.1",
        "NOTIFY_TIMEOUT_SECONDS": "5", "PUBLIC_URL": "https://desk.example.com"}


class WorkerRun:
    """``copydesk worker`` in a subprocess on the test's database; output in files."""

    def __init__(self, database_url, workdir, env=None, args=()):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        name = f"worker-{time.monotonic_ns()}"
        self.stdout_path, self.stderr_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
        full_env = {**os.environ, "COPYDESK_DATABASE_URL": database_url, "COPYDESK_SECRET_KEY": TEST_SECRET_KEY,
                    "COPYDESK_INSTANCE_PATH": str(workdir / "instance"),
                    **{f"COPYDESK_{key}": value for key, value in {**FAST, **(env or {})}.items()}}
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen([COPYDESK, "worker", *args], env=full_env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)

    def log(self):
        return self.stderr_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout)
        return self.process.returncode


@pytest.fixture
def start_worker(tmp_path, database_url):
    """Start worker subprocesses: ``start_worker(env={...})``; all are killed afterwards."""
    started = []

    def start(env=None, args=(), url=None):
        started.append(WorkerRun(url or database_url, tmp_path / "worker", env, args))
        return started[-1]
    yield start
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)


def mail_env(smtp_server, **extra):
    return {"SMTP_URL": smtp_server.url, **extra}


def add_rule(app, site_key, **fields):
    with app.app_context():
        rule = Rule(site_id=Site.find(site_key).id, **fields)
        db.session.add(rule)
        db.session.commit()
        return rule.id


def post(client, site_key, number=1, **overrides):
    body = report_body(site_key, idempotency_key=f"reader-key-{number:06d}", **overrides)
    response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 201, response.json
    return response.json["id"]


def states(app):
    return rows(app, sa.select(Delivery.state, Delivery.attempts).order_by(Delivery.id))


def test_a_filed_report_arrives_by_email(app, client, site_key, smtp_server, start_worker):
    add_rule(app, site_key, recipient="email", target="Desk@Example.com", mode="instant")
    report_id = post(client, site_key, comment="Should be principal.")
    worker = start_worker(env=mail_env(smtp_server))
    [mail] = smtp_server.wait_for(1)
    assert mail.recipients == ["desk@example.com"]
    assert mail.subject == "New report: “principle keeper” — Daily"
    # The selection in its context, and the reader's suggestion.
    for part in (mail.text, mail.html):
        assert "principle keeper" in part and "four-hour watch" in part and "kept the accounts" in part
        assert "principal keeper" in part
    assert f"/reports/{report_id}" in mail.text
    # No IP hash, user agent or raw address anywhere in the message.
    with app.app_context():
        submission = db.session.scalar(sa.select(Submission))
        ip_hash, agent = submission.ip_hash, submission.user_agent
    assert ip_hash and ip_hash not in mail.raw.decode() and "203.0.113.7" not in mail.raw.decode()
    assert not agent or agent not in mail.raw.decode()
    deadline = time.monotonic() + 10
    while states(app) != [("sent", 1)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert states(app) == [("sent", 1)]
    assert worker.stop() == 0
    # One log line per outcome, saying what was sent but not to whom.
    log = worker.log()
    assert "report by email" in log and "sent after 1 attempt(s)" in log
    assert "desk@example.com" not in log.lower()


def test_worker_once_sends_what_is_due_and_exits(app, client, site_key, smtp_server, http_receiver,
                                                 start_worker):
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/hook", secret="whsec_" + "A" * 44)
    add_rule(app, site_key, recipient="email", target="later@example.com", mode="daily")
    post(client, site_key)
    worker = start_worker(env=mail_env(smtp_server), args=["--once"])
    assert worker.process.wait(60) == 0
    assert worker.stdout_path.read_text().strip() == "2 sent, 0 not sent (see the site's deliveries)."
    assert [mail.recipients for mail in smtp_server.mails] == [["desk@example.com"]]
    assert [request.path for request in http_receiver.requests] == ["/hook"]
    # The daily digest waits for its hour.
    assert sorted(states(app)) == [("pending", 0), ("sent", 1), ("sent", 1)]


def test_worker_refuses_an_old_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    run = WorkerRun(url, tmp_path)
    assert run.process.wait(30) == 1
    assert "Run `copydesk db upgrade`" in run.log()
    assert "Traceback" not in run.log()


def test_sigterm_finishes_the_send_in_flight_then_exits(app, client, site_key, http_receiver, start_worker):
    add_rule(app, site_key, recipient="webhook", target=http_receiver.url + "/hook", secret="whsec_" + "A" * 44)
    post(client, site_key)
    http_receiver.holding.set()
    worker = start_worker()
    deadline = time.monotonic() + 20
    while states(app) != [("sending", 1)] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the request is at the receiver, waiting for its answer
    worker.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert worker.process.poll() is None  # still waiting for the answer
    http_receiver.holding.clear()
    assert worker.process.wait(20) == 0
    assert states(app) == [("sent", 1)]
    assert len(http_receiver.requests) == 1


def test_worker_exits_when_its_parent_dies(app, start_worker, tmp_path):
    # A parent that is not this process: the worker sees it is not its parent and stops.
    worker = start_worker(args=["--parent", str(os.getpid() + 99999)])
    assert worker.process.wait(20) == 0
    assert "is gone: stopping" in worker.log()


def test_jobs_run_once_per_period_across_workers(app, client, site_key, app_config):
    """Two workers over one database: the daily purge runs once, then not again that day."""
    from copydesk.worker import JOBS, Worker
    app.config["RETENTION_DAYS"] = 30
    post(client, site_key)
    with app.app_context():
        db.session.execute(sa.update(Submission).values(created_at=utcnow() - timedelta(days=31)))
        db.session.commit()
    first, second = Worker(app), Worker(app)
    with app.app_context():
        first.run_jobs()
        second.run_jobs()
        purge = db.session.get(Job, "purge")
        assert purge.last_outcome == "deliveries: 0, reader_addresses: 0, submissions: 1"
        assert purge.next_run_at > utcnow() + timedelta(hours=23)
        ran_at = purge.last_run_at
    assert rows(app, sa.select(Submission.ip_hash, Submission.user_agent)) == [(None, None)]
    with app.app_context():
        second.run_jobs()
        assert db.session.get(Job, "purge").last_run_at == ran_at
        # Due again: the next worker to look runs it.
        db.session.execute(sa.update(Job).where(Job.name == "purge").values(next_run_at=utcnow()))
        db.session.commit()
        second.run_jobs()
        assert db.session.get(Job, "purge").last_run_at > ran_at
    assert {job.name for job in JOBS} == {"requested checks", "purge", "checks"}


def test_purge_job_is_off_without_retention_days(app):
    from copydesk.worker import Worker
    assert app.config["RETENTION_DAYS"] is None
    with app.app_context():
        Worker(app).run_jobs()
        assert db.session.get(Job, "purge") is None


def test_retry_delay_doubles_with_jitter_up_to_the_cap(app):
    app.config.update(NOTIFY_RETRY_SECONDS=30, NOTIFY_RETRY_MAX_SECONDS=3600)
    with app.app_context():
        for attempts, full in [(1, 30), (2, 60), (3, 120), (8, 3600), (50, 3600)]:
            delays = [deliveries.retry_delay(attempts) for _ in range(200)]
            assert full / 2 <= min(delays) and max(delays) <= full
            assert max(delays) - min(delays) > full / 10  # jittered, not all alike


def test_retry_and_cancel_for_rule(app, client, site_key):
    rule_id = add_rule(app, site_key, recipient="webhook", target="https://hooks.example.com/x", secret="whsec_x")
    other = add_rule(app, site_key, recipient="webhook", target="https://hooks.example.com/y", secret="whsec_y")
    post(client, site_key)
    with app.app_context():
        deliveries.plan()
        first, second = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
        first.state, first.attempts, first.last_error = "failed", 7, "The webhook answered 500."
        first.next_attempt_at = first.due_at = utcnow() - timedelta(days=2)
        db.session.commit()
        assert deliveries.retry(first)
        assert (first.state, first.attempts, first.last_error) == ("pending", 7, "The webhook answered 500.")
        assert first.next_attempt_at > utcnow() - timedelta(minutes=1)
        assert [claimed.delivery_id for claimed in deliveries.claim("admin-test", 10)] == [first.id, second.id]
        assert not deliveries.retry(db.session.get(Delivery, first.id))  # being sent: left alone
        db.session.execute(sa.update(Delivery).values(state="pending"))
        db.session.commit()
        assert deliveries.cancel_for_rule(db.session.get(Rule, rule_id)) == 1
        db.session.commit()
        assert [(d.rule_id, d.state) for d in db.session.scalars(sa.select(Delivery).order_by(Delivery.id))] == [
            (rule_id, "cancelled"), (other, "pending")]


def test_a_late_worker_does_not_overwrite_a_later_claim(app, client, site_key):
    add_rule(app, site_key, recipient="webhook", target="https://hooks.example.com/x", secret="whsec_x")
    post(client, site_key)
    with app.app_context():
        deliveries.plan()
        [first] = deliveries.claim("worker-a", 10)
        # The lease lapses; the same worker claims the delivery again (a new claim).
        db.session.execute(sa.update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        [second] = deliveries.claim("worker-a", 10)
        assert second.delivery_id == first.delivery_id and second.claimed_by != first.claimed_by
        # The first claim's send is told apart: it neither sends nor records.
        assert deliveries.send_claimed(first.delivery_id, first.claimed_by) is None
        outcome = deliveries.Attempt(first.delivery_id, "msg", "webhook", "report", 1, "sent", 1)
        assert deliveries._record(outcome, first.claimed_by, state="sent", last_error="", sent_at=utcnow()) is None
        delivery = db.session.get(Delivery, first.delivery_id)
        assert (delivery.state, delivery.claimed_by, delivery.attempts) == ("sending", second.claimed_by, 2)


def test_a_reader_thanks_forgets_the_address_once_sent(app, client, site_key, smtp_server, app_config):
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    report_id = post(client, site_key)
    with app.app_context():
        submission = db.session.scalar(sa.select(Submission))
        submission.reader_email = "reader@example.org"
        db.session.add(Delivery(kind="reader-thanks", channel="email", recipient="", recipient_key="reader:1",
                                submission_id=submission.id, site_id=submission.site_id,
                                items=[DeliveryItem(report_id=report_id)]))
        db.session.execute(sa.update(Report).values(notify_due=False))
        db.session.commit()
    outcomes = Worker(app).run_once()
    assert [outcome.state for outcome in outcomes] == ["sent"]
    assert [mail.recipients for mail in smtp_server.mails] == [["reader@example.org"]]
    assert rows(app, sa.select(Submission.reader_email)) == [(None,)]


def test_serve_runs_the_worker_and_stops_it(database_url, serve, smtp_server, app, site_key):
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    server = serve(database_url, workers=1,
                   env={f"COPYDESK_{key}": value for key, value in {**FAST, "SMTP_URL": smtp_server.url}.items()})
    response = requests.post(server.url + "/api/v1/reports", json=report_body(site_key),
                             headers={"Origin": ORIGIN}, timeout=10)
    assert response.status_code == 201
    # The worker runs at a lower CPU priority: on a busy machine it may take a while to start.
    [mail] = smtp_server.wait_for(1, timeout=60)
    assert mail.recipients == ["desk@example.com"]
    worker = _worker_children(server.process.pid)
    assert len(worker) == 1
    # A worker that dies is started again, and goes on delivering.
    os.kill(worker[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _worker_children(server.process.pid) in ([], worker):
        time.sleep(0.1)
    [restarted] = _worker_children(server.process.pid)
    assert restarted != worker[0]
    response = requests.post(server.url + "/api/v1/reports", timeout=10, headers={"Origin": ORIGIN},
                             json=report_body(site_key, idempotency_key="second-key-01", exact="another words"))
    assert response.status_code == 201
    smtp_server.wait_for(2)
    assert server.stop() == 0
    time.sleep(0.5)
    assert not _alive(restarted)  # no orphan
    log = server.stderr_path.read_text()
    # Restarted after the SIGKILL only: stopping with the server is not dying.
    assert log.count("died (exit status") == 1 and "stopped on request: not restarted" in log


def test_serve_no_worker_flag(database_url, serve, app):
    server = serve(database_url, workers=1)
    assert len(_worker_children(server.process.pid)) == 1
    plain = _serve_no_worker(database_url, app)
    try:
        assert _worker_children(plain.pid) == []
    finally:
        plain.terminate()
        plain.wait(40)


def test_run_starts_the_worker_and_stops_it_on_sigterm(database_url, tmp_path, app):
    port = free_port()
    env = {**os.environ, "COPYDESK_DATABASE_URL": database_url, "COPYDESK_SECRET_KEY": TEST_SECRET_KEY,
           "COPYDESK_INSTANCE_PATH": str(tmp_path / "run-instance"), "COPYDESK_WORKER_POLL_SECONDS": "0.1"}
    process = subprocess.Popen([COPYDESK, "run", "--bind", f"127.0.0.1:{port}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _worker_children(process.pid):
            time.sleep(0.1)
        [worker] = _worker_children(process.pid)
        process.send_signal(signal.SIGTERM)  # to the server alone, not its process group
        assert process.wait(30) == 0
        time.sleep(0.3)
        assert not _alive(worker)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _serve_no_worker(database_url, app):
    port = free_port()
    env = {**os.environ, "COPYDESK_DATABASE_URL": database_url, "COPYDESK_SECRET_KEY": TEST_SECRET_KEY,
           "COPYDESK_INSTANCE_PATH": str(Path(app.instance_path)), "COPYDESK_RATELIMIT_PER_PROCESS": "true",
           **{f"COPYDESK_{k}": v for k, v in TEST_LIMITS.items()}}
    process = subprocess.Popen([COPYDESK, "serve", "--no-worker", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                time.sleep(1)  # time enough for a worker child to appear, were there one
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve --no-worker did not start")


def _worker_children(pid):
    """Pids of the `copydesk worker` children of a process."""
    found, children = [], []
    # Each thread's children are listed apart (the server's watcher thread starts the worker).
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:
            continue
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"worker" in command and b"--parent" in command:
            found.append(int(child))
    return found


def _alive(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_an_unexpected_error_while_sending_is_retried_not_lost(app, client, site_key, monkeypatch):
    from copydesk.notify import channels
    from copydesk.worker import Worker
    add_rule(app, site_key, recipient="webhook", target="https://hooks.example.com/x", secret="whsec_x")
    post(client, site_key)

    def broken(delivery):
        raise KeyError("a bug")
    monkeypatch.setattr(channels, "send", broken)
    [outcome] = Worker(app).run_once()
    assert outcome.state == "pending"
    [(state, attempts, error)] = rows(app, sa.select(Delivery.state, Delivery.attempts, Delivery.last_error))
    assert (state, attempts) == ("pending", 1)
    assert error == "Unexpected error (KeyError); see the worker's log."


def test_serve_worker_setting_and_flag_decide_the_hooks():
    from copydesk.config import defaults
    from copydesk.server import worker_hooks
    assert set(worker_hooks(defaults())) == {"when_ready", "on_exit"}  # on by default
    assert worker_hooks({**defaults(), "SERVE_WORKER": False}) == {}
    assert worker_hooks(defaults(), run_worker=False) == {}  # --no-worker


def test_email_waits_untouched_while_smtp_is_unset_then_arrives(app, client, site_key, smtp_server):
    """No COPYDESK_SMTP_URL: email deliveries stay pending, with no attempt counted and no
    give-up however long it takes; once it is set, they go out."""
    from copydesk.worker import Worker
    app.config.update(SMTP_URL="", NOTIFY_GIVE_UP_HOURS=1)
    add_rule(app, site_key, recipient="email", target="desk@example.com", mode="instant")
    post(client, site_key)
    worker = Worker(app)
    assert worker.run_once() == []
    assert states(app) == [("pending", 0)]
    with app.app_context():  # two days later
        two_days_ago = utcnow() - timedelta(days=2)
        db.session.execute(sa.update(Delivery).values(due_at=two_days_ago, next_attempt_at=two_days_ago))
        db.session.commit()
    assert worker.run_once() == []
    assert states(app) == [("pending", 0)]
    # Set, but the mail server is down at first: retried, not given up (the give-up time
    # counts from the first attempt, not from when the message was due).
    app.config["SMTP_URL"] = smtp_server.url
    smtp_server.stop()
    assert [outcome.state for outcome in worker.run_once()] == ["pending"]
    smtp_server.start()
    with app.app_context():
        db.session.execute(sa.update(Delivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    assert [outcome.state for outcome in worker.run_once()] == ["sent"]
    assert [mail.recipients for mail in smtp_server.mails] == [["desk@example.com"]]
    assert states(app) == [("sent", 2)]


def test_editors_are_read_again_when_their_message_goes_out(app, client, site_key, smtp_server, make_editor):
    """Planned for four editors; before it goes out one is deactivated, one turns the site
    off, one changes address and one is deleted: only the third hears, at the new address."""
    from copydesk.models import Editor
    from copydesk.notify.models import Preference
    from copydesk.worker import Worker
    app.config["SMTP_URL"] = smtp_server.url
    ann, bob, cat, dan = (make_editor(f"{name}@example.com") for name in ("ann", "bob", "cat", "dan"))
    with app.app_context():
        site_id = Site.find(site_key).id
        db.session.add_all([Preference(editor_id=editor, site_id=site_id, mode="instant")
                            for editor in (ann, bob, cat, dan)])
        db.session.add(Rule(site_id=site_id, recipient="everyone"))
        db.session.commit()
    post(client, site_key)
    with app.app_context():
        deliveries.plan()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 4
        db.session.get(Editor, ann).set_active(False)
        db.session.get(Preference, (bob, site_id)).mode = "off"
        db.session.get(Editor, cat).email = "cat@newsroom.example"
        db.session.execute(sa.delete(Editor).where(Editor.id == dan))
        db.session.commit()
    # Deactivating cancels at once what is owed to the editor; the rest is decided at send time.
    assert rows(app, sa.select(Delivery.state, Delivery.last_error).where(Delivery.editor_id == ann)) == [
        ("cancelled", "The editor was deactivated.")]
    outcomes = Worker(app).run_once()
    assert sorted(outcome.state for outcome in outcomes) == ["cancelled", "sent"]
    assert [mail.recipients for mail in smtp_server.mails] == [["cat@newsroom.example"]]
    assert rows(app, sa.select(Delivery.editor_id, Delivery.state, Delivery.recipient).order_by(Delivery.id)) == [
        (ann, "cancelled", "ann@example.com"), (bob, "cancelled", "bob@example.com"),
        (cat, "sent", "cat@newsroom.example")]  # dan's went with him


def test_an_admin_retries_only_what_failed_or_backs_off(app, client, site_key, make_editor):
    """A digest still gathering its reports is not sent early by "Retry"."""
    make_editor("ann@example.com")  # the daily digest
    add_rule(app, site_key, recipient="everyone")
    post(client, site_key)
    with app.app_context():
        deliveries.plan()
        digest = db.session.scalar(sa.select(Delivery))
        due = digest.due_at
        assert digest.kind == "digest" and due > utcnow()
        assert not digest.retryable and not deliveries.retry(digest)
        assert (digest.state, digest.due_at, digest.next_attempt_at) == ("pending", due, due)
        # One that failed an attempt and waits for its next may be tried now.
        digest.attempts, digest.next_attempt_at = 1, utcnow() + timedelta(hours=1)
        db.session.commit()
        assert deliveries.retry(digest)
        assert digest.next_attempt_at <= utcnow()


def test_the_purge_deletes_old_finished_deliveries(app, client, site_key):
    from copydesk.retention import purge
    add_rule(app, site_key, recipient="webhook", target="https://hooks.example.com/x", secret="whsec_x")
    for number in range(1, 5):
        post(client, site_key, number, exact=f"error {number}", prefix="", suffix="")
    with app.app_context():
        deliveries.plan()
        old = utcnow() - timedelta(days=40)
        ids = db.session.scalars(sa.select(Delivery.id).order_by(Delivery.id)).all()
        for delivery_id, state, created in zip(ids, ("sent", "failed", "pending", "sent"),
                                               (old, old, old, utcnow())):
            db.session.execute(sa.update(Delivery).where(Delivery.id == delivery_id)
                               .values(state=state, created_at=created))
        db.session.commit()
        assert purge(30)["deliveries"] == 2
        # What is still owed, and what is recent, stay; the items went with their deliveries.
        assert db.session.scalars(sa.select(Delivery.id).order_by(Delivery.id)).all() == ids[2:]
        assert sorted(db.session.scalars(sa.select(DeliveryItem.delivery_id))) == ids[2:]


def test_a_failed_job_records_its_error_class_not_its_text(app):
    """A database error's text carries its SQL parameters (a reader's address, say)."""
    from copydesk.worker import ScheduledJob, Worker

    def broken():
        raise sa.exc.IntegrityError("UPDATE submission SET reader_email=?", ("reader@example.org",), Exception("x"))
    worker = Worker(app, jobs=(ScheduledJob("broken", timedelta(hours=1), broken),))
    with app.app_context():
        worker.run_jobs()
        assert db.session.get(Job, "broken").last_outcome == "failed: IntegrityError; see the worker's log."
