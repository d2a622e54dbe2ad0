"""Grouping and idempotency under real concurrency: many threads fire identical sends
at the same moment at a live ``copydesk serve`` (several worker processes).

The ``postgresql_only`` tests run with ``pytest --db=postgresql``; the same races on
SQLite, the default tier, run in the default run.
"""

import threading

import pytest
import requests
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.models import Report, Submission

THREADS = 16


def fire_at_once(url, bodies):
    """POST every body from its own thread, all released by one barrier; returns the
    (status, json) answers in order."""
    barrier = threading.Barrier(len(bodies))
    answers = [None] * len(bodies)

    def send(index, body):
        with requests.Session() as session:
            session.get(url + "/healthz", timeout=10)  # connect first, so the sends coincide
            barrier.wait(timeout=30)
            response = session.post(url + "/api/v1/reports", json=body,
                                    headers={"Origin": ORIGIN}, timeout=60)
            answers[index] = (response.status_code, response.json())

    threads = [threading.Thread(target=send, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return answers


def check_one_report_per_anchor(app, answers, keys):
    assert all(status == 201 for status, _ in answers), answers
    distinct = sorted(set(keys))
    [(report_id, count)] = rows(app, sa.select(Report.id, Report.submission_count))
    assert count == len(distinct)
    assert sorted(k for (k,) in rows(app, sa.select(Submission.idempotency_key))) == distinct
    assert {body["id"] for _, body in answers} == {report_id}
    # Every send of one key was told the same "joined"; exactly one key started the report.
    # (A replay reports the report's current count, which other keys may have raised meanwhile.)
    by_key = {}
    for key, (_, body) in zip(keys, answers):
        by_key.setdefault(key, set()).add(body["joined"])
    assert all(len(joined) == 1 for joined in by_key.values()), by_key
    assert sorted(joined for [joined] in by_key.values()) == [False] + [True] * (len(distinct) - 1)
    assert max(body["count"] for _, body in answers) == len(distinct)


CASES = [pytest.param(1, id="16-sends-one-idempotency-key"),
         pytest.param(THREADS, id="16-readers-one-error"),
         pytest.param(4, id="16-sends-4-keys-one-error")]


def _race(app, make_site, database_url, serve, distinct_keys):
    site_key = make_site(origins=[ORIGIN])
    server = serve(database_url, workers=2, threads=THREADS // 2)
    keys = [f"race-key-{i % distinct_keys:06d}" for i in range(THREADS)]
    answers = fire_at_once(server.url, [report_body(site_key, idempotency_key=key, comment=f"from {key}") for key in keys])
    check_one_report_per_anchor(app, answers, keys)


@pytest.mark.postgresql_only
@pytest.mark.slow
@pytest.mark.parametrize("distinct_keys", CASES)
def test_concurrent_identical_sends_on_postgresql(app, make_site, database_url, serve, distinct_keys):
    assert database_url.startswith("postgresql")
    _race(app, make_site, database_url, serve, distinct_keys)


@pytest.mark.slow
@pytest.mark.parametrize("distinct_keys", CASES)
def test_concurrent_identical_sends_on_sqlite(app, make_site, database_url, serve, distinct_keys):
    if not database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL run has test_concurrent_identical_sends_on_postgresql")
    _race(app, make_site, database_url, serve, distinct_keys)


@pytest.mark.postgresql_only
def test_migrations_go_down_and_up_again_on_postgresql(app):
    from flask_migrate import downgrade, upgrade

    from copydesk.db import db
    with app.app_context():
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("report")}
        db.engine.dispose()
    assert {"site", "report", "submission", "editor", "event"} <= tables
    assert "ix_report_site_status_id" in indexes


def test_migrations_match_the_models(app):
    """`copydesk db upgrade` gives exactly the schema the models declare (indexes included)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from copydesk.db import db, include_in_autogenerate
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_in_autogenerate})
        assert compare_metadata(context, db.metadata) == []
