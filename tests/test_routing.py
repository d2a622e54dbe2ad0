"""Who hears about a report (notify/rules.py) and what the desk then owes them
(notify/deliveries.py ``plan``): rules, preferences, dedupe, repeats, digests, races."""

import threading
from datetime import datetime

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.db import db
from copydesk.models import Editor, Report, Site
from copydesk.notify import deliveries
from copydesk.notify.models import AuthorContact, Delivery, DeliveryItem, Preference, Rule
from copydesk.notify.rules import recipients_for


def post(client, site_key, number=1, **overrides):
    body = report_body(site_key, idempotency_key=f"reader-key-{number:06d}", **overrides)
    response = client.post("/api/v1/reports", json=body, headers={"Origin": ORIGIN})
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.fixture
def site(app, site_key):
    with app.app_context():
        return Site.find(site_key).id


@pytest.fixture
def add(app, site):
    """Add rows of the site: ``add(Rule, recipient="email", target=...)``; answers the id."""
    def make(model, **fields):
        with app.app_context():
            row = model(**({"site_id": site} if hasattr(model, "site_id") else {}), **fields)
            db.session.add(row)
            db.session.commit()
            return getattr(row, "id", None)
    return make


def route(app, report_id):
    with app.app_context():
        return sorted((r.channel, r.address, r.mode, r.recipient_key)
                      for r in recipients_for(db.session.get(Report, report_id)))


def plan(app, limit=100):
    with app.app_context():
        return deliveries.plan(limit)


def owed(app):
    """(kind, channel, recipient, mode, [(report id, reason, count)]) of every delivery."""
    with app.app_context():
        return [(d.kind, d.channel, d.recipient, d.mode, [(i.report_id, i.reason, i.count) for i in d.items])
                for d in db.session.scalars(sa.select(Delivery).order_by(Delivery.id))]


def test_everyone_rule_reaches_every_active_editor_in_their_mode(app, client, site_key, site, add, make_editor):
    ann = make_editor("ann@example.com")
    make_editor("Bob@Example.com")  # no preference: the daily digest
    cid = make_editor("cid@example.com")
    gone = make_editor("gone@example.com")
    with app.app_context():
        db.session.get(Editor, gone).active = False
        db.session.commit()
    add(Preference, editor_id=ann, mode="instant")
    add(Preference, editor_id=cid, mode="off")
    add(Rule, recipient="everyone")
    report = post(client, site_key)
    # Bob has no preference: the daily digest; Cid chose "off"; the deactivated editor hears nothing.
    assert route(app, report) == [("email", "ann@example.com", "instant", f"site:{site}:email:ann@example.com"),
                                  ("email", "bob@example.com", "daily", f"site:{site}:email:bob@example.com")]


def test_editor_email_and_channel_rules(app, client, site_key, site, add, make_editor):
    ann = make_editor("ann@example.com")
    add(Preference, editor_id=ann, mode="hourly")
    add(Rule, recipient="editor", editor_id=ann)
    add(Rule, recipient="email", target=" Desk@Example.com ", mode="daily")
    slack = add(Rule, recipient="slack", target="https://hooks.example.com/slack")
    hook = add(Rule, recipient="webhook", target="https://hooks.example.com/in", secret="whsec_x")
    telegram = add(Rule, recipient="telegram", target="-100123", token="123:abc")
    report = post(client, site_key)
    assert route(app, report) == [
        ("email", "ann@example.com", "hourly", f"site:{site}:email:ann@example.com"),
        ("email", "desk@example.com", "daily", f"site:{site}:email:desk@example.com"),
        ("slack", "https://hooks.example.com/slack", "instant", f"rule:{slack}"),
        ("telegram", "-100123", "instant", f"rule:{telegram}"),
        ("webhook", "https://hooks.example.com/in", "instant", f"rule:{hook}"),
    ]


def test_an_address_reached_twice_hears_once_in_the_fastest_mode(app, client, site_key, site, add, make_editor):
    ann = make_editor("ann@example.com")  # daily by default
    add(Rule, recipient="everyone")
    add(Rule, recipient="editor", editor_id=ann)
    add(Rule, recipient="email", target="ANN@example.com", mode="hourly")
    add(Rule, recipient="email", target="ann@example.com ", mode="daily")
    report = post(client, site_key)
    assert route(app, report) == [("email", "ann@example.com", "hourly", f"site:{site}:email:ann@example.com")]


@pytest.mark.parametrize("field, value, page_value, heard", [
    ("section", "Politics", "  politics ", True),
    ("section", "Politics", "Sport", False),
    ("section", "Politics", "", False),
    ("section", "Новости  Города", "новости города", True),
    ("author", "ANNA  Petrova", "anna petrova", True),
    ("author", "Анна Петрова", "АННА ПЕТРОВА", True),
    ("author", "Анна Петрова", "Анна Петровна", False),
    ("kind", "grammar", "grammar", False),  # not a kind readers can choose: never heard (see test_kinds)
])
def test_section_author_and_kind_matching(app, client, site_key, add, field, value, page_value, heard):
    add(Rule, recipient="email", target="desk@example.com", match_field=field, match_value=value)
    overrides = {"article_section": page_value} if field == "section" else {"article_author": page_value}
    report = post(client, site_key, **overrides)
    assert bool(route(app, report)) is heard


def test_author_rule_uses_the_author_contact(app, client, site_key, site, add, make_editor):
    ann = make_editor("ann@example.com")
    add(Preference, editor_id=ann, mode="instant")
    add(Rule, recipient="author", mode="hourly")
    add(AuthorContact, author="Anna Petrova", author_key="anna petrova", editor_id=ann)
    add(AuthorContact, author="Иван Орлов", author_key="иван орлов", email="Ivan@Example.com")
    to_editor = post(client, site_key, 1, article_author="ANNA   Petrova")
    to_address = post(client, site_key, 2, article_author="Иван ОРЛОВ", exact="another", prefix="", suffix="")
    nobody = post(client, site_key, 3, article_author="Someone Else", exact="third", prefix="", suffix="")
    # The editor hears in their own mode; a plain address in the rule's mode.
    assert route(app, to_editor) == [("email", "ann@example.com", "instant", f"site:{site}:email:ann@example.com")]
    assert route(app, to_address) == [("email", "ivan@example.com", "hourly", f"site:{site}:email:ivan@example.com")]
    assert route(app, nobody) == []


def test_a_new_report_becomes_deliveries_in_one_plan(app, client, site_key, add):
    add(Rule, recipient="email", target="desk@example.com", mode="instant")
    add(Rule, recipient="webhook", target="https://user:pw@hooks.example.com/in?token=t0p", secret="whsec_x")
    report = post(client, site_key)
    assert rows(app, sa.select(Report.notify_due, Report.announced_count)) == [(True, 0)]
    assert plan(app) == 1
    # Admins see a webhook's origin only: its path or query may hold its secret.
    assert owed(app) == [("report", "email", "desk@example.com", "instant", [(report, "new", 1)]),
                         ("report", "webhook", "https://hooks.example.com", "instant", [(report, "new", 1)])]
    assert rows(app, sa.select(Report.notify_due, Report.announced_count)) == [(False, 1)]
    assert plan(app) == 0  # nothing twice
    assert len(owed(app)) == 2


def test_repeats_send_nothing_until_a_milestone(app, client, site_key, add):
    add(Rule, recipient="email", target="desk@example.com", mode="instant")
    report = post(client, site_key, 1)
    plan(app)
    for number in range(2, 5):
        post(client, site_key, number)
        assert plan(app) == 0
    assert len(owed(app)) == 1
    post(client, site_key, 5)  # the fifth reader
    assert rows(app, sa.select(Report.notify_due)) == [(True,)]
    assert plan(app) == 1
    assert owed(app)[1] == ("report", "email", "desk@example.com", "instant", [(report, "repeat", 5)])
    post(client, site_key, 6)
    assert plan(app) == 0 and len(owed(app)) == 2


def test_a_digest_gathers_several_reports_into_one_delivery(app, client, site_key, add, make_editor):
    ann = make_editor("ann@example.com")  # the daily digest by default
    add(Rule, recipient="everyone")
    first = post(client, site_key, 1)
    plan(app)
    second = post(client, site_key, 2, exact="second error", prefix="", suffix="")
    third = post(client, site_key, 3, exact="third error", prefix="", suffix="")
    plan(app)
    [digest] = owed(app)
    assert digest == ("digest", "email", "ann@example.com", "daily",
                      [(first, "new", 1), (second, "new", 1), (third, "new", 1)])
    with app.app_context():
        delivery = db.session.scalar(sa.select(Delivery))
        assert delivery.editor_id == ann
        # Due at the next DIGEST_HOUR (UTC), and not before.
        assert delivery.due_at.hour == app.config["DIGEST_HOUR"] and delivery.due_at.minute == 0
        assert delivery.due_at > delivery.created_at
        assert deliveries.claim("test", 10) == []


def test_digest_due_times():
    from copydesk import create_app
    from conftest import TEST_SECRET_KEY
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "DATABASE_URL": "sqlite://",
                      "DIGEST_HOUR": 8})
    with app.app_context():
        assert deliveries.digest_due("hourly", datetime(2026, 11, 26, 9, 59, 59)) == datetime(2026, 11, 26, 10)
        assert deliveries.digest_due("hourly", datetime(2026, 11, 26, 10, 0)) == datetime(2026, 11, 26, 11)
        assert deliveries.digest_due("daily", datetime(2026, 11, 26, 7, 30)) == datetime(2026, 11, 26, 8)
        assert deliveries.digest_due("daily", datetime(2026, 11, 26, 8, 0)) == datetime(2026, 11, 27, 8)
        assert deliveries.digest_due("daily", datetime(2026, 12, 31, 23, 0)) == datetime(2027, 1, 1, 8)


def test_a_digest_being_sent_is_not_joined(app, client, site_key, add, make_editor):
    make_editor("ann@example.com")
    add(Rule, recipient="everyone")
    post(client, site_key, 1)
    plan(app)
    with app.app_context():  # a worker claimed the digest (its time came)
        db.session.execute(sa.update(Delivery).values(state="sending"))
        db.session.commit()
    later = post(client, site_key, 2, exact="later error", prefix="", suffix="")
    plan(app)
    kinds = owed(app)
    assert len(kinds) == 2 and kinds[1][4] == [(later, "new", 1)]


def test_the_due_report_query_reads_the_partial_index(app):
    with app.app_context():
        statement = deliveries._due_reports(100)
        if db.engine.dialect.name == "sqlite":
            sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
            plan_rows = db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()
            assert any("ix_report_notify_due" in row[-1] for row in plan_rows), plan_rows
        else:
            db.session.execute(sa.text("SET enable_seqscan = off"))  # an empty table: force the choice
            sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
            text = "\n".join(row[0] for row in db.session.execute(sa.text("EXPLAIN " + sql)))
            assert "ix_report_notify_due" in text, text
        db.session.rollback()


def test_the_claim_reads_the_due_index(app):
    with app.app_context():
        now = datetime(2026, 1, 1)
        statement = (sa.select(Delivery.id).where(deliveries._ACTIVE, Delivery.next_attempt_at <= now)
                     .order_by(Delivery.next_attempt_at, Delivery.id).limit(4))
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if db.engine.dialect.name == "sqlite":
            text = str(db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all())
        else:
            db.session.execute(sa.text("SET enable_seqscan = off"))
            text = "\n".join(row[0] for row in db.session.execute(sa.text("EXPLAIN " + sql)))
        assert "ix_delivery_due" in text, text
        db.session.rollback()


def test_no_rules_means_no_deliveries_but_the_report_is_announced(app, client, site_key):
    post(client, site_key)
    assert plan(app) == 1
    assert owed(app) == []
    assert rows(app, sa.select(Report.notify_due, Report.announced_count)) == [(False, 1)]


def test_concurrent_joins_while_planning_lose_nothing(app, client, site_key, add, make_editor):
    """Readers keep joining reports while a planner runs: every report is announced once
    as new, and a milestone reached meanwhile is announced (once) too."""
    make_editor("ann@example.com")
    add(Rule, recipient="everyone")  # daily digest: every plan joins one delivery
    add(Rule, recipient="webhook", target="https://hooks.example.com/in", secret="whsec_x")
    reports = [post(client, site_key, number, exact=f"error {number}", prefix="", suffix="")
               for number in range(1, 11)]
    stop = threading.Event()
    errors = []

    def readers():
        reader = app.test_client()
        number = 100
        while not stop.is_set() and number < 140:
            for report_number in (1, 2):
                number += 1
                response = reader.post("/api/v1/reports", headers={"Origin": ORIGIN}, json=report_body(
                    site_key, idempotency_key=f"joiner-{number:06d}", exact=f"error {report_number}",
                    prefix="", suffix=""))
                if response.status_code != 201:
                    errors.append(response.status_code)

    thread = threading.Thread(target=readers)
    thread.start()
    while thread.is_alive():
        plan(app, limit=3)
    thread.join()
    stop.set()
    while plan(app):
        pass
    assert not errors
    with app.app_context():
        items = db.session.execute(sa.select(DeliveryItem.report_id, DeliveryItem.reason, Delivery.channel)
                                   .join(Delivery)).all()
        counts = dict(db.session.execute(sa.select(Report.id, Report.submission_count)).all())
    for channel in ("email", "webhook"):
        new = sorted(report for report, reason, ch in items if ch == channel and reason == "new")
        assert new == reports
        repeats = sorted(report for report, reason, ch in items if ch == channel and reason == "repeat")
        # Each report that passed a milestone is announced once per milestone passed.
        expected = sorted(report for report in reports for milestone in (5, 25, 100)
                          if counts[report] >= milestone)
        assert repeats == expected


def test_two_planners_at_once_gather_every_report_into_one_digest(app, client, site_key, add, make_editor):
    """Two workers planning together create each person's digest once (the second creator
    joins the first's) and lose no report."""
    for name in ("ann", "bob", "cid"):
        make_editor(f"{name}@example.com")  # the daily digest by default
    add(Rule, recipient="everyone")
    reports = [post(client, site_key, number, exact=f"error {number}", prefix="", suffix="")
               for number in range(1, 41)]
    errors = []

    def planner():
        try:
            while plan(app, limit=2):
                pass
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=planner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    digests = owed(app)
    assert sorted(recipient for _kind, _channel, recipient, _mode, _items in digests) == [
        "ann@example.com", "bob@example.com", "cid@example.com"]
    for _kind, _channel, _recipient, _mode, items in digests:
        assert sorted(report for report, _reason, _count in items) == reports


def test_a_digest_created_meanwhile_by_another_worker_is_joined(app, client, site_key, add, make_editor,
                                                                monkeypatch):
    """The planner looked, found no digest, and another worker created it before this one's
    insert: the unique index refuses the second, and the planner joins the first."""
    make_editor("ann@example.com")
    add(Rule, recipient="everyone")
    first = post(client, site_key, 1)
    plan(app)
    second = post(client, site_key, 2, exact="second error", prefix="", suffix="")
    looks = []
    real = deliveries._pending_digest

    def blind_once(recipient_key, due):
        looks.append(recipient_key)
        return None if len(looks) == 1 else real(recipient_key, due)
    monkeypatch.setattr(deliveries, "_pending_digest", blind_once)
    assert plan(app) == 1
    assert len(looks) == 2
    [digest] = owed(app)
    assert digest[4] == [(first, "new", 1), (second, "new", 1)]


def test_a_digest_is_about_one_site(app, client, site_key, make_site, make_editor):
    """An editor on two sites gets one digest per site, each titled and filed as its site
    (removing one site must not take the other's reports with it)."""
    ann = make_editor("ann@example.com")  # the daily digest on every site by default
    beta_key = make_site(name="Beta", origins=[ORIGIN])
    with app.app_context():
        alpha, beta = Site.find(site_key), Site.find(beta_key)
        db.session.add_all([Rule(site_id=alpha.id, recipient="everyone"), Rule(site_id=beta.id, recipient="everyone")])
        db.session.commit()
        alpha_id, beta_id = alpha.id, beta.id
    on_alpha = post(client, site_key, 1)
    on_beta = post(client, beta_key, 2)
    plan(app)
    with app.app_context():
        digests = db.session.scalars(sa.select(Delivery).order_by(Delivery.site_id)).all()
        assert [(d.kind, d.site_id, d.editor_id, [i.report_id for i in d.items]) for d in digests] == [
            ("digest", alpha_id, ann, [on_alpha]), ("digest", beta_id, ann, [on_beta])]
        db.session.get(Site, alpha_id).remove()
        db.session.commit()
        assert [(d.site_id, [i.report_id for i in d.items])
                for d in db.session.scalars(sa.select(Delivery))] == [(beta_id, [on_beta])]


def test_repeats_of_a_closed_report_are_not_announced(app, client, site_key, add, make_editor):
    """A report closed as spam keeps counting its repeats, but its milestones page nobody."""
    add(Rule, recipient="email", target="desk@example.com", mode="instant")
    editor_id = make_editor("ann@example.com")
    report = post(client, site_key, 1)
    plan(app)
    with app.app_context():
        db.session.get(Report, report).close("spam", by=db.session.get(Editor, editor_id))
        db.session.commit()
    for number in range(2, 6):
        assert post(client, site_key, number) == report
    assert rows(app, sa.select(Report.submission_count, Report.notify_due)) == [(5, False)]
    assert plan(app) == 0
    assert len(owed(app)) == 1


def test_a_report_closed_before_it_was_announced_is_not(app, client, site_key, add, make_editor):
    add(Rule, recipient="email", target="desk@example.com", mode="instant")
    editor_id = make_editor("ann@example.com")
    report = post(client, site_key, 1)
    with app.app_context():
        db.session.get(Report, report).close("not_an_error", by=db.session.get(Editor, editor_id))
        db.session.commit()
    assert plan(app) == 1  # claimed, and its flag cleared
    assert owed(app) == []
    assert rows(app, sa.select(Report.notify_due)) == [(False,)]


def test_a_reader_address_sent_to_a_closed_report_is_not_kept(app, client, make_site, make_editor):
    followup_key = make_site(name="Herald", origins=[ORIGIN], reader_followup=True)
    editor_id = make_editor("ann@example.com")
    report = post(client, followup_key, 1)
    with app.app_context():
        db.session.get(Report, report).close("not_an_error", by=db.session.get(Editor, editor_id))
        db.session.commit()
    assert post(client, followup_key, 2, email="reader@example.org") == report
    from copydesk.models import Submission
    assert rows(app, sa.select(Submission.reader_email).order_by(Submission.id)) == [(None,), (None,)]
    # An open report keeps it (for the thank-you when it is fixed).
    other = post(client, followup_key, 3, exact="another error", prefix="", suffix="", email="reader@example.org")
    assert rows(app, sa.select(Submission.reader_email).where(Submission.report_id == other)) == [
        ("reader@example.org",)]


def test_an_idle_worker_writes_nothing(app, client, site_key, add):
    """Nothing due: planning and claiming only read (a write would take SQLite's lock,
    which intake needs)."""
    add(Rule, recipient="email", target="desk@example.com", mode="daily")
    post(client, site_key)
    plan(app)  # a digest, due tomorrow
    statements = []
    with app.app_context():
        def record(_conn, _cursor, statement, *_args):
            statements.append(statement.split()[0].upper())
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert deliveries.plan() == 0
            assert deliveries.claim("idle", 4) == []
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
    assert statements and set(statements) == {"SELECT"}, statements
