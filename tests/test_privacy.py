"""Readers' privacy: no raw IP anywhere we keep data, no cookies on the widget's
requests, and ``copydesk purge`` erasing old personal fields."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ORIGIN, report_body, rows
from copydesk.db import db
from copydesk.extensions import limiter
from copydesk.intake import hash_ip
from copydesk.models import Report, Submission, utcnow

READER_IP = "203.0.113.77"
PROXY_IP = "10.1.2.3"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Reader/1.0"


def every_stored_value(app):
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                for column, value in zip(table.columns, row):
                    yield f"{table.name}.{column.name}", value


@pytest.mark.parametrize("settings, environ, headers", [
    ({}, {"REMOTE_ADDR": READER_IP}, {}),
    ({"TRUSTED_PROXIES": 1}, {"REMOTE_ADDR": PROXY_IP}, {"X-Forwarded-For": READER_IP}),
], ids=["direct", "behind-proxy"])
def test_raw_reader_ip_is_stored_nowhere(app, client, site_key, environ, headers, database_url):
    headers = {"Origin": ORIGIN, "User-Agent": USER_AGENT, **headers}
    for n, extra in enumerate([{}, {"exact": "four-hour"}, {"website": "bot"}, {"url": "bad"}]):
        client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=f"reader-{n:04}", **extra),
                    headers=headers, environ_base=environ)
    client.get(f"/api/v1/sites/{site_key}/widget-config", headers=headers, environ_base=environ)
    stored = list(every_stored_value(app))
    assert ("submission.user_agent", USER_AGENT) in stored  # the scan does see what was stored
    leaks = [(where, value) for where, value in stored if READER_IP in str(value)]
    assert leaks == []
    with app.test_request_context():
        expected = hash_ip(READER_IP)
    assert re.fullmatch(r"[0-9a-f]{32}", expected)
    assert {row.ip_hash for row in rows(app, sa.select(Submission.ip_hash))} == {expected}
    # Nor in the database files' bytes (free pages, the WAL), on SQLite.
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert READER_IP.encode() not in file.read_bytes()
    # Nor in the rate-limit counters' keys.
    keys = list(limiter.storage.storage) + list(limiter.storage.events)
    assert any(expected in key for key in keys)
    assert not [key for key in keys if READER_IP in key]


def test_ip_hash_is_keyed_by_the_secret(app):
    from copydesk import create_app
    with app.test_request_context():
        ours = hash_ip(READER_IP)
    other = create_app({**app.config, "SECRET_KEY": "another-secret-8e1d5c3a9f7b2064d1c8e5a3b7f90246", "TESTING": True})
    with other.test_request_context():
        theirs = hash_ip(READER_IP)
    with other.app_context():
        db.engine.dispose()
    # A table of hashes of every IPv4 address is useless without the secret.
    assert ours != theirs


@pytest.fixture
def logged_in_client(client, auth, make_editor):
    """A browser that carries an editor's session cookie: the API must not touch it."""
    make_editor()
    auth.login()
    assert client.get_cookie("session")
    return client


def api_requests(app, site_key):
    """One request for every method of every API route, with the arguments it takes."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = rule.rule.replace("<key>", site_key)
        assert "<" not in path, f"teach api_requests the arguments of {rule.rule}"
        for method in sorted(rule.methods - {"HEAD"}):
            yield method, path


def test_no_cookie_is_set_on_any_widget_or_api_response(app, logged_in_client, site_key):
    client = logged_in_client
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    answers = []
    for method, path in api_requests(app, site_key):
        answers.append(client.open(path, method=method, headers=headers,
                                   json=report_body(site_key) if method == "POST" else None))
    answers += [
        client.post("/api/v1/reports", json=report_body(site_key, website="bot"), headers=headers),
        client.post("/api/v1/reports", json=report_body(site_key, url="bad"), headers=headers),
        client.post("/api/v1/reports", json=report_body("nope"), headers=headers),
        client.get("/api/v1/nothing-here"),
        client.get("/static/copydesk.js"),
        client.get("/static/copydesk-dialog.js"),
    ]
    statuses = {answer.status_code for answer in answers}
    assert {200, 201, 204, 404, 422} <= statuses
    for answer in answers:
        answer.close()  # static files are streamed from an open file
        assert "Set-Cookie" not in answer.headers, (answer.request.path, answer.headers["Set-Cookie"])


@pytest.mark.parametrize("settings", [{"RATELIMIT_REPORTS_PER_IP": "1 per hour"}], ids=["settings"])
def test_no_cookie_is_set_on_a_rate_limited_answer(logged_in_client, site_key):
    logged_in_client.post("/api/v1/reports", json=report_body(site_key, idempotency_key="reader-0001"))
    refused = logged_in_client.post("/api/v1/reports", json=report_body(site_key, idempotency_key="reader-0002"))
    assert refused.status_code == 429
    assert "Set-Cookie" not in refused.headers


# --- copydesk purge ---------------------------------------------------------------------

@pytest.fixture
def aged_submissions(app, client, site_key):
    """Three sends, then backdated: 40 days, 10 days and 0 days old. Answers their keys."""
    ages = {"reader-old-0001": 40, "reader-mid-0002": 10, "reader-new-0003": 0}
    for key in ages:
        client.post("/api/v1/reports", json=report_body(site_key, idempotency_key=key),
                    headers={"Origin": ORIGIN, "User-Agent": USER_AGENT})
    with app.app_context():
        for key, days in ages.items():
            db.session.execute(sa.update(Submission).where(Submission.idempotency_key == key)
                               .values(created_at=utcnow() - timedelta(days=days, minutes=1)))
        db.session.commit()
    return list(ages)


def personal_fields(app):
    return {row.idempotency_key: (row.ip_hash is not None, row.user_agent)
            for row in rows(app, sa.select(Submission.idempotency_key, Submission.ip_hash, Submission.user_agent))}


def test_purge_erases_personal_fields_of_old_submissions_only(app, runner, aged_submissions):
    report_columns = sa.select(*Report.__table__.columns).order_by(Report.id)
    reports_before = rows(app, report_columns)
    assert len(reports_before) == 1
    texts = sa.select(Submission.id, Submission.comment, Submission.suggestion,
                      Submission.report_id, Submission.created_at).order_by(Submission.id)
    texts_before = rows(app, texts)
    result = runner.invoke(args=["purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert result.output == ("Erased personal fields of 1 submission(s) older than 30 days, "
                             "and 0 reader address(es); deleted 0 finished notification message(s).\n")
    assert personal_fields(app) == {
        "reader-old-0001": (False, None),
        "reader-mid-0002": (True, USER_AGENT),
        "reader-new-0003": (True, USER_AGENT),
    }
    assert rows(app, report_columns) == reports_before
    assert rows(app, texts) == texts_before
    again = runner.invoke(args=["purge", "--older-than", "30"])
    assert again.output == ("Erased personal fields of 0 submission(s) older than 30 days, "
                            "and 0 reader address(es); deleted 0 finished notification message(s).\n")


@pytest.mark.parametrize("settings", [{"RETENTION_DAYS": 7}], ids=["settings"])
def test_purge_defaults_to_the_retention_days_setting(app, runner, aged_submissions):
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "of 2 submission(s) older than 7 days" in result.output
    assert personal_fields(app)["reader-new-0003"] == (True, USER_AGENT)


def test_purge_without_days_is_a_clear_error_that_changes_nothing(app, runner, aged_submissions):
    before = personal_fields(app)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 2
    assert "Error: Give --older-than DAYS or set COPYDESK_RETENTION_DAYS." in result.output
    assert personal_fields(app) == before


@pytest.mark.parametrize("value, message", [
    ("ten", "'ten' is not a valid integer"),
    ("-1", "-1 is not in the range x>=0"),
])
def test_purge_with_bad_days_is_a_clear_error(app, runner, aged_submissions, value, message):
    before = personal_fields(app)
    result = runner.invoke(args=["purge", "--older-than", value])
    assert result.exit_code == 2
    assert message in result.output
    assert personal_fields(app) == before


# --- The secret key and the files that hold secrets ----------------------------------------

@pytest.fixture
def fresh_instance(tmp_path, monkeypatch):
    """An empty instance folder and no secret key or database URL in the environment."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(instance))
    for name in ("COPYDESK_SECRET_KEY", "COPYDESK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return instance


def test_secret_key_of_digits_is_read_as_text(fresh_instance, monkeypatch, database_url):
    from copydesk import create_app
    digits = "1234567890" * 4
    monkeypatch.setenv("COPYDESK_SECRET_KEY", digits)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    assert app.config["SECRET_KEY"] == digits
    page = app.test_client().get("/login")
    assert page.status_code == 200 and "Log in" in page.text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("key, problem", [
    ("12345678901234567890", "is 20 characters long; it needs at least 32"),
    ("s3cret", "is 6 characters long; it needs at least 32"),
    ("change-me-to-64-random-hex-characters", "is a placeholder from an example"),
    ("your-secret-key-goes-here-0123456789", "is a placeholder from an example"),
    ("ab" * 30, "repeats too few different characters to be secret"),
], ids=["digits", "short", "readme-placeholder", "placeholder", "repetitive"])
def test_guessable_secret_key_stops_startup_with_a_clear_error(fresh_instance, monkeypatch, key, problem):
    from copydesk import create_app
    from copydesk.config import SettingError
    monkeypatch.setenv("COPYDESK_SECRET_KEY", key)
    with pytest.raises(SettingError) as refused:
        create_app({"TESTING": True})
    assert f"COPYDESK_SECRET_KEY {problem}." in str(refused.value)
    assert not (fresh_instance / "copydesk.sqlite3").exists()  # refused before touching anything


def test_cli_prints_the_secret_key_error_without_a_traceback(fresh_instance):
    import os
    import subprocess
    import sys
    env = {**os.environ, "COPYDESK_SECRET_KEY": "12345678901234567890"}
    result = subprocess.run([str(Path(sys.executable).parent / "copydesk"), "sites", "list"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Error: COPYDESK_SECRET_KEY is 20 characters long; it needs at least 32." in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def world_readable_umask():
    import os
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return path.stat().st_mode & 0o777


def test_database_and_its_wal_files_are_created_private(fresh_instance, world_readable_umask):
    from flask_migrate import upgrade

    from copydesk import create_app
    app = create_app({"TESTING": True})
    database = fresh_instance / "copydesk.sqlite3"
    with app.app_context():
        upgrade()
        db.session.execute(sa.text("SELECT count(*) FROM report")).scalar()  # keeps the WAL open
        files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
        assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
        db.session.remove()
        db.engine.dispose()


def test_generated_secret_key_file_is_private_from_its_first_byte(fresh_instance, world_readable_umask, monkeypatch):
    import os

    from copydesk import create_app
    # No tightening after the fact: the file must be created private.
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    monkeypatch.setattr(Path, "chmod", lambda *args, **kwargs: None)
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    key_file = fresh_instance / "secret_key"
    assert mode(key_file) == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) == 64
    # Kept: the next start (or another worker) uses the same key.
    assert create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert [path.name for path in fresh_instance.iterdir()] == ["secret_key"]  # no draft left behind
