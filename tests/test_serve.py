"""``copydesk serve`` (gunicorn) and ``/healthz``: a real server process, JSON logs,
and no serving of a database the code does not match."""

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests
import sqlalchemy as sa

from conftest import ORIGIN, TEST_SECRET_KEY, report_body, rows
from copydesk.models import Report, Submission
from copydesk.server import MAX_DEFAULT_WORKERS, default_workers, server_options

COPYDESK = str(Path(sys.executable).parent / "copydesk")


def test_healthz_answers_ok_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Apps with settings of the test's own; their connections are closed afterwards."""
    from copydesk import create_app
    from copydesk.db import db
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    apps = []

    def make(config):
        apps.append(create_app(config))
        return apps[-1]
    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("url", ["sqlite:////nonexistent-copydesk-dir/missing/db.sqlite3",
                                 "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"])
def test_healthz_is_503_json_when_database_unreachable(make_app, url):
    app = make_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "DATABASE_URL": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.content_type == "application/json"
    assert response.json == {"status": "error", "errors": {"database": ["The database is unreachable."]}}


def test_healthz_is_never_rate_limited(app_config, make_app, monkeypatch):
    from copydesk.extensions import limiter
    # The limiter is one object for every app: its default limits are put back after the test.
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [])
    app = make_app({**app_config, "RATELIMIT_DEFAULT": "2 per minute"})
    client = app.test_client()
    # The default limit applies elsewhere (so the setting is live) but not to /healthz.
    assert [client.get("/login").status_code for _ in range(3)][-1] == 429
    assert {client.get("/healthz").status_code for _ in range(10)} == {200}


def test_default_workers_follow_cpu_count_and_are_capped(monkeypatch):
    import multiprocessing

    from copydesk.config import defaults
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 2)
    assert default_workers() == 5
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 64)
    assert default_workers() == MAX_DEFAULT_WORKERS
    shared = {**defaults(), "RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/5"}
    options = server_options(shared)
    assert (options["workers"], options["threads"], options["timeout"]) == (MAX_DEFAULT_WORKERS, 4, 30)
    assert options["worker_class"] == "asgi"


def test_memory_limits_mean_one_process_by_default():
    """Each process would count the `memory://` limits for itself: one process, more threads."""
    from copydesk.config import defaults
    options = server_options(defaults())
    assert (options["workers"], options["threads"]) == (1, 16)
    with pytest.raises(click.UsageError, match="Use one worker"):
        server_options(defaults(), workers=3)
    allowed = server_options({**defaults(), "RATELIMIT_PER_PROCESS": True}, workers=3)
    assert (allowed["workers"], allowed["threads"]) == (3, 4)


def test_gunicorn_trusts_no_forwarded_header():
    """ProxyFix (TRUSTED_PROXIES) alone decides; gunicorn must not set the scheme,
    SCRIPT_NAME or PATH_INFO from any peer's headers, loopback included."""
    from copydesk.config import defaults
    from copydesk.server import CopydeskServer
    server = CopydeskServer(object(), server_options(defaults()))
    assert server.cfg.forwarded_allow_ips == []
    assert server.cfg.secure_scheme_headers == {}
    assert server.cfg.forwarder_headers == []


@pytest.mark.slow
def test_serve_takes_reports_and_logs_json_lines(app, make_site, database_url, serve):
    site_key = make_site(origins=[ORIGIN])
    server = serve(database_url, workers=2)

    health = requests.get(server.url + "/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    response = requests.post(server.url + "/api/v1/reports", json=report_body(site_key, idempotency_key="serve-key-000001"),
                             headers={"Origin": ORIGIN, "User-Agent": 'agent "with quotes"'}, timeout=5)
    assert response.status_code == 201, response.text
    assert response.json()["joined"] is False
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert server.stop() == 0

    assert rows(app, sa.select(Report.exact, Report.submission_count)) == [("principle keeper", 1)]
    assert rows(app, sa.select(Submission.idempotency_key)) == [("serve-key-000001",)]
    access = [json.loads(line) for line in server.log_lines("stdout")]
    post = [entry for entry in access if entry["path"] == "/api/v1/reports"]
    assert len(post) == 1
    assert post[0]["method"] == "POST" and post[0]["status"] == 201
    assert post[0]["agent"] == 'agent "with quotes"'
    # The address is logged as the same keyed hash the database keeps, never raw.
    [(ip_hash,)] = rows(app, sa.select(Submission.ip_hash))
    assert post[0]["remote_hash"] == ip_hash and "remote" not in post[0]
    assert "127.0.0.1" not in "".join(server.log_lines("stdout"))
    assert isinstance(post[0]["duration_ms"], float) and post[0]["time"].endswith("Z")
    # The server's own lines (stderr) are JSON too, with a level.
    errors = [json.loads(line) for line in server.log_lines("stderr")]
    assert any(e["logger"] == "gunicorn.error" and "Listening at" in e["message"] for e in errors)
    assert all(e["level"] in {"debug", "info", "warning", "error", "critical"} for e in errors)


def _serve_once(database_url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "COPYDESK_DATABASE_URL": database_url,
           "COPYDESK_SECRET_KEY": TEST_SECRET_KEY, "COPYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    return subprocess.run([COPYDESK, "serve", "--bind", "127.0.0.1:1"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_serve_refuses_an_unmigrated_database(tmp_path):
    database = tmp_path / "empty.sqlite3"
    result = _serve_once(f"sqlite:///{database}", tmp_path)
    assert result.returncode == 1
    assert "Run `copydesk db upgrade` first" in result.stderr
    assert "none (empty database)" in result.stderr
    assert "Listening at" not in result.stderr


def test_serve_explains_an_unreachable_database(tmp_path):
    result = _serve_once("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", tmp_path)
    assert result.returncode == 1
    assert "Cannot reach the database" in result.stderr and "COPYDESK_DATABASE_URL" in result.stderr


def test_nav_counts_are_reused_briefly_and_recounted_after_an_editors_action(
        app, client, auth, make_editor, make_site, monkeypatch):
    """At 200,000 reports the nav's counts cost more than the page: each process recounts
    them at most every STATUS_COUNTS_SECONDS, and at once after an editor's action."""
    import re

    from conftest import csrf_token
    from copydesk import dashboard

    clock = [1000.0]
    monkeypatch.setattr(dashboard, "monotonic", lambda: clock[0])

    def counts():
        page = client.get("/reports?status=all").text
        return {s: int(re.search(rf'data-status="{s}">(\d+)<', page).group(1)) for s in ("new", "confirmed")}

    site_key = make_site(origins=[ORIGIN])
    make_editor()
    auth.login()
    assert counts() == {"new": 0, "confirmed": 0}
    response = client.post("/api/v1/reports", json=report_body(site_key), headers={"Origin": ORIGIN})
    assert response.status_code == 201
    assert counts() == {"new": 0, "confirmed": 0}  # a new report shows within the interval…
    clock[0] += dashboard.STATUS_COUNTS_SECONDS + 0.1
    assert counts() == {"new": 1, "confirmed": 0}  # …not before its end
    report_id = response.json["id"]
    token = csrf_token(client.get(f"/reports/{report_id}").text)
    client.post(f"/reports/{report_id}/action", data={"action": "confirm", "csrf_token": token})
    assert counts() == {"new": 0, "confirmed": 1}  # the editor's own change shows at once


def test_serve_refuses_several_processes_counting_limits_each(database_url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "COPYDESK_DATABASE_URL": database_url,
           "COPYDESK_SECRET_KEY": TEST_SECRET_KEY, "COPYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    result = subprocess.run([COPYDESK, "serve", "--bind", "127.0.0.1:1", "--workers", "3"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "3 worker processes with COPYDESK_RATELIMIT_STORAGE_URL=memory://" in result.stderr
    assert "COPYDESK_RATELIMIT_STORAGE_URL=redis://" in result.stderr and "Traceback" not in result.stderr
    assert "Listening at" not in result.stderr


@pytest.mark.slow
def test_serve_default_counts_report_limits_exactly(make_site, database_url, serve):
    """49 sends at once against a limit of 10: exactly 10 are accepted (one process counts all)."""
    from concurrent.futures import ThreadPoolExecutor
    site_key = make_site(origins=[ORIGIN])
    server = serve(database_url, workers=None, threads=None,
                   env={"COPYDESK_RATELIMIT_REPORTS_PER_IP": "10 per hour",
                        "COPYDESK_RATELIMIT_PER_PROCESS": "false"})

    def send(number):
        body = report_body(site_key, idempotency_key=f"exact-limit-{number:06d}", exact=f"teh {number}")
        return requests.post(server.url + "/api/v1/reports", json=body, headers={"Origin": ORIGIN},
                             timeout=30).status_code
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(49)))
    assert (statuses.count(201), statuses.count(429)) == (10, 39)


@pytest.mark.slow
def test_serve_keeps_answering_while_30_clients_send_headers_slowly(database_url, serve):
    """Slowloris: 30 connections trickling header lines must not take a thread each."""
    import socket
    import threading
    import time
    server = serve(database_url, workers=None, threads=None)
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(30)]
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for connection in slow:
                connection.sendall(b"X-Slow: 1\r\n")
            stop.wait(1)
    try:
        for connection in slow:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: desk\r\n")
        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        time.sleep(1.5)
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(server.url + "/healthz", timeout=2).json() == {"status": "ok"}
            assert time.monotonic() - started < 2
    finally:
        stop.set()
        for connection in slow:
            connection.close()


FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl",
          "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example", "SCRIPT_NAME": "/forged",
          "Forwarded": "for=203.0.113.9;proto=https"}


@pytest.mark.slow
@pytest.mark.parametrize("proxies", [0, 1])
def test_serve_forwarded_headers_count_only_through_trusted_proxies(database_url, serve, proxies):
    server = serve(database_url, workers=None, env={"COPYDESK_TRUSTED_PROXIES": str(proxies)})
    response = requests.get(server.url + "/login", headers=FORGED, timeout=5)
    assert response.status_code == 200
    assert "/forged" not in response.text
    cookie = response.headers["Set-Cookie"]
    if proxies == 0:  # nothing forwarded changes anything
        assert "Strict-Transport-Security" not in response.headers
        assert "Secure" not in cookie
    else:  # one trusted proxy: ProxyFix takes its scheme
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "Secure" in cookie
    assert server.stop() == 0
    from copydesk import create_app
    from copydesk.db import db
    from copydesk.intake import hash_ip
    app = create_app({"SECRET_KEY": TEST_SECRET_KEY, "DATABASE_URL": database_url})
    with app.test_request_context():
        expected = hash_ip("203.0.113.9" if proxies else "127.0.0.1")
        db.engine.dispose()
    [login] = [json.loads(line) for line in server.log_lines("stdout") if '"/login"' in line]
    assert login["remote_hash"] == expected
