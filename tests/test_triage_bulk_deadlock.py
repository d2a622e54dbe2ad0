"""A bulk action caught in a real PostgreSQL deadlock: the report PostgreSQL gives up on is
left as it was and counted, the others are done, and the editor never sees a 500.

The stats rollups (migration 0011) are kept by triggers that lock their rows to commit, so a
bulk and another transaction taking the same rows in another order can deadlock. Runs with
``pytest --db=postgresql``; SQLite has one writer at a time and no deadlocks.
"""

import threading
import time

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.db import db
from copydesk.models import Event, Report
from test_api import post
from test_triage_list import bulk, token as token_of

# Each wait is bounded, so a test gone wrong fails instead of hanging the suite.
WAIT_SECONDS = 30


@pytest.fixture
def logged_in(auth, make_editor):
    make_editor()
    assert auth.login().status_code == 302
    return auth


def _check_late(dbapi_connection, _record):
    """The app's connections look for a deadlock 3 s into a lock wait (1 s by default): the
    holder's second lock has that long to close the cycle on a busy machine, and the holder
    (10 s) never looks first, so the bulk is always the one aborted."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET deadlock_timeout = '3s'")
    cursor.close()
    dbapi_connection.commit()


def wait_for_lock_wait(watcher, other_than):
    """Wait until a backend of this database other than ``other_than`` waits on a lock."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        waiting = watcher.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> :pid"), {"pid": other_than})
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError(f"the bulk never waited on a lock in {WAIT_SECONDS} s")


@pytest.mark.postgresql_only
def test_a_report_caught_in_a_deadlock_is_left_as_it_was_and_the_others_are_done(
        client, app, logged_in, site_key, database_url):
    r1, r2 = (post(client, report_body(site_key, idempotency_key=f"deadlock-{i:06d}", exact=f"error number {i}",
                                       url=f"{ORIGIN}/page-{i}", canonical_url=None)).json["id"]
              for i in (1, 2))
    pages = {rid: (site, page) for rid, site, page in rows(app, sa.select(Report.id, Report.site_id, Report.page_key))}
    assert pages[r1] != pages[r2]
    lock_page = sa.text("UPDATE report_open_page SET reports = reports WHERE site_id = :site AND page_key = :page")
    answer = {}

    def close_both():
        try:
            answer["response"] = bulk(client, action="close", resolution="fixed", report=[r1, r2],
                                      list="status=open", **{f"expected_{r1}": "new", f"expected_{r2}": "new"})
        except Exception as error:  # noqa: BLE001 - the test client raises what the app did not handle
            answer["error"] = error

    bulk_thread = threading.Thread(target=close_both, daemon=True)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with app.app_context():
        app_engine = db.engine
    sa.event.listen(app_engine, "connect", _check_late)
    app_engine.dispose()  # the bulk's connection is a new one, made with the setting
    try:
        with engine.connect() as holder, engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            # The bulk's backend (deadlock_timeout 3 s) finds the cycle first and is the one aborted.
            holder.execute(sa.text("SET deadlock_timeout = '10s'"))
            holder.execute(sa.text(f"SET lock_timeout = '{WAIT_SECONDS}s'"))
            holder_pid = holder.scalar(sa.text("SELECT pg_backend_pid()"))
            holder.commit()
            site, page = pages[r2]
            holder.execute(lock_page, {"site": site, "page": page})
            bulk_thread.start()
            # The bulk closed r1 (holding r1's page row) and now waits for r2's, which we hold.
            wait_for_lock_wait(watcher, other_than=holder_pid)
            site, page = pages[r1]
            # Waits for the bulk, which waits for us: a deadlock. Returns once the bulk commits.
            holder.execute(lock_page, {"site": site, "page": page})
            holder.rollback()
    finally:
        engine.dispose()
        bulk_thread.join(WAIT_SECONDS)
        sa.event.remove(app_engine, "connect", _check_late)
        app_engine.dispose()
    assert not bulk_thread.is_alive()

    assert "error" not in answer, answer["error"]
    response = answer["response"]
    assert response.status_code == 302
    text = client.get(response.headers["Location"]).text
    assert "Done for 1 report." in text
    assert "1 report left as it was: other changes held it at that moment. Act again for it." in text
    assert {rid: (status, resolution) for rid, status, resolution in rows(
        app, sa.select(Report.id, Report.status, Report.resolution))} == {r1: ("closed", "fixed"), r2: ("new", None)}
    assert rows(app, sa.select(Event.report_id, Event.kind, Event.from_value, Event.to_value)
                .where(Event.kind == "status")) == [(r1, "status", "new", "closed")]
    # The rollups count r2 as open still, on its own page, and r1 as closed.
    assert rows(app, sa.text("SELECT site_id, page_key, reports FROM report_open_page")) == [
        (*pages[r2], 1)]


@pytest.fixture
def impatient(app):
    """The app's connections give up a lock wait after 0.3 s (lock_timeout, SQLSTATE 55P03),
    as they would give up on a deadlock: PostgreSQL holding a report's rows elsewhere."""
    def give_up_soon(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("SET lock_timeout = '300ms'")
        cursor.close()
        dbapi_connection.commit()

    with app.app_context():
        app_engine = db.engine
    sa.event.listen(app_engine, "connect", give_up_soon)
    app_engine.dispose()
    yield
    sa.event.remove(app_engine, "connect", give_up_soon)
    app_engine.dispose()


def two_reports(client, site_key):
    return [post(client, report_body(site_key, idempotency_key=f"held-{i:06d}", exact=f"error number {i}",
                                     url=f"{ORIGIN}/page-{i}", canonical_url=None)).json["id"] for i in (1, 2)]


def held(database_url, report_id):
    """A connection holding ``report_id``'s row locked until it is closed."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    connection = engine.connect()
    connection.execute(sa.text("SELECT id FROM report WHERE id = :id FOR UPDATE"), {"id": report_id})
    return engine, connection


@pytest.mark.postgresql_only
def test_an_action_on_a_report_held_elsewhere_is_a_409_and_changes_nothing(
        client, app, logged_in, site_key, database_url, impatient):
    r1, _r2 = two_reports(client, site_key)
    engine, connection = held(database_url, r1)
    try:
        answer = client.post(f"/reports/{r1}/action", headers={"Accept": "application/json"},
                             data={"csrf_token": token_of(client), "action": "close", "resolution": "fixed",
                                   "expected_status": "new"})
        page = client.post(f"/reports/{r1}/action", follow_redirects=True,
                           data={"csrf_token": token_of(client), "action": "confirm", "expected_status": "new"})
    finally:
        connection.close()
        engine.dispose()
    assert answer.status_code == 409
    assert answer.json == {"error": "Other changes held this report at that moment; nothing was changed. Act again."}
    assert "Other changes held this report at that moment; nothing was changed. Act again." in page.text
    assert rows(app, sa.select(Report.status).where(Report.id == r1)) == [("new",)]
    assert rows(app, sa.select(Event.id).where(Event.report_id == r1)) == []


@pytest.mark.postgresql_only
def test_a_bulk_action_on_reports_held_elsewhere_changes_nothing_and_says_so(
        client, app, logged_in, site_key, database_url, impatient):
    r1, r2 = two_reports(client, site_key)
    engine, connection = held(database_url, r2)
    try:
        response = bulk(client, action="close", resolution="fixed", report=[r1, r2], list="status=open",
                        **{f"expected_{r1}": "new", f"expected_{r2}": "new"})
    finally:
        connection.close()
        engine.dispose()
    assert response.status_code == 302
    text = client.get(response.headers["Location"]).text
    assert "Nothing was changed: other changes held these reports at that moment. Act again." in text
    assert rows(app, sa.select(Report.status).order_by(Report.id)) == [("new",), ("new",)]
