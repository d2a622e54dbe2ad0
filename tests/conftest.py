"""Shared fixtures: a fresh database per test, the app, a live server and a browser.

The database is SQLite by default. ``pytest --db=postgresql`` runs the same tests on
the PostgreSQL at ``COPYDESK_TEST_DATABASE_URL`` (``make test`` does both when it is set).
"""

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from copydesk import create_app
from copydesk.db import db

CHROMIUM = os.environ.get("COPYDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
# Limits generous enough for a whole test run from 127.0.0.1; rate-limit tests set their own.
TEST_LIMITS = {"RATELIMIT_REPORTS_PER_IP": "10000 per minute",
               "RATELIMIT_REPORTS_PER_SITE": "10000 per minute",
               "RATELIMIT_LOGIN": "10000 per minute",
               "RATELIMIT_WIDGET_CONFIG": "10000 per minute"}
# Every test receiver (webhooks, Slack, Telegram) listens on 127.0.0.1; apps and the serve and
# worker subprocesses all read this. Tests of the refusal set NOTIFY_ALLOW_PRIVATE=False.
os.environ.setdefault("COPYDESK_NOTIFY_ALLOW_PRIVATE", "true")
# Long enough for create_app's secret-key check; starts "test-secret" so leak tests can look for it.
TEST_SECRET_KEY = "test-secret-4f9c2a7e1b8d6035c9e2f1a7b4d8c063"


def pytest_addoption(parser):
    parser.addoption("--db", choices=["sqlite", "postgresql"], default="sqlite",
                     help="Database to run the tests on (postgresql needs COPYDESK_TEST_DATABASE_URL).")


def pytest_configure(config):
    config.addinivalue_line("markers", "postgresql_only: needs the PostgreSQL backend")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--db") != "postgresql":
        skip = pytest.mark.skip(reason="runs with --db=postgresql")
        for item in items:
            if "postgresql_only" in item.keywords:
                item.add_marker(skip)


def _migrate(url, instance):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET_KEY, "TESTING": True})
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(request, tmp_path_factory):
    """Migrate once per run: a template SQLite file to copy, or the PostgreSQL schema."""
    instance = tmp_path_factory.mktemp("template")
    os.environ["COPYDESK_INSTANCE_PATH"] = str(instance)
    if request.config.getoption("--db") == "postgresql":
        url = os.environ.get("COPYDESK_TEST_DATABASE_URL")
        if not url:
            pytest.exit("--db=postgresql needs COPYDESK_TEST_DATABASE_URL", returncode=2)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url, instance)
        return {"kind": "postgresql", "url": url}
    path = instance / "template.sqlite3"
    _migrate(f"sqlite:///{path}", instance)
    return {"kind": "sqlite", "path": path}


@pytest.fixture
def database_url(database_template, tmp_path):
    """A database URL holding a freshly migrated, empty schema for this test."""
    if database_template["kind"] == "sqlite":
        path = tmp_path / "copydesk.sqlite3"
        shutil.copy(database_template["path"], path)
        return f"sqlite:///{path}"
    url = database_template["url"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings():
    """Settings for this test's app on top of the suite's (see ``with_settings``)."""
    return {}


def with_settings(**settings):
    """Run a test with an app made with these settings (on top of the suite's)."""
    return pytest.mark.parametrize("settings", [settings], ids=["settings"])


@pytest.fixture
def app_config(database_url, tmp_path, settings):
    """The settings the ``app`` fixture is made with; tests may update it first."""
    return {"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "DATABASE_URL": database_url, **TEST_LIMITS,
            **settings}


@pytest.fixture
def app(app_config, tmp_path, monkeypatch):
    """A Copydesk app on a fresh database."""
    monkeypatch.setenv("COPYDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class AuthActions:
    """Log a test client in and out as an editor, the way a browser would (with CSRF)."""

    def __init__(self, client):
        self._client = client

    def login(self, email="editor@example.com", password="correct horse battery"):
        page = self._client.get("/login")
        return self._client.post("/login", data={
            "email": email, "password": password, "csrf_token": csrf_token(page.text)})

    def token(self, path="/reports"):
        return csrf_token(self._client.get(path).text)

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": self.token()})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _chosen_sites(app):
    """Editors whose sites a test chose (``make_editor(sites=...)``): make_site leaves them alone."""
    return app.extensions.setdefault("tests.editors_with_chosen_sites", set())


@pytest.fixture
def make_editor(app):
    """Create an editor: ``make_editor(email, password, role)``. An editor belongs to every
    site there is, and to every site made later by ``make_site`` (``sites=[]``: to none;
    ``sites=[key, ...]``: to those only, and to no later ones)."""
    from copydesk.models import Editor, Site

    def make(email="editor@example.com", password="correct horse battery", role="editor", name="Eddie Tor",
             sites=None):
        with app.app_context():
            editor = Editor(email=email, name=name, role=role)
            editor.set_password(password)
            chosen = sa.select(Site) if sites is None else sa.select(Site).where(Site.key.in_(sites))
            editor.sites = list(db.session.scalars(chosen))
            if sites is not None:
                _chosen_sites(app).add(email)
            db.session.add(editor)
            db.session.commit()
            return editor.id
    return make


@pytest.fixture
def make_site(app):
    """Create a site: ``make_site(origins=[...])`` returns its key. Editors made by
    ``make_editor`` without ``sites=`` belong to it."""
    from copydesk.models import Editor, Site

    def make(name="Daily", origins=("https://daily.example.com",), **fields):
        with app.app_context():
            site = Site(name=name, **fields)
            site.allowed_origins = list(origins)
            for editor in db.session.scalars(sa.select(Editor).where(Editor.role != "admin")):
                if editor.email not in _chosen_sites(app):
                    editor.sites.append(site)
            db.session.add(site)
            db.session.commit()
            return site.key
    return make


ORIGIN = "https://daily.example.com"


def report_body(site_key, **overrides):
    """A valid send from the widget on a page at ORIGIN; ``overrides`` replace fields."""
    body = {
        "site": site_key,
        "idempotency_key": "key-0000000001",
        "url": ORIGIN + "/2026/11/lighthouse?utm=x#top",
        "canonical_url": ORIGIN + "/2026/11/lighthouse",
        "title": "The Lighthouse Keepers",
        "lang": "en",
        "exact": "principle keeper",
        "prefix": "Each keeper stood a four-hour watch. The ",
        "suffix": " kept the accounts",
        "position": 420,
        "comment": "Should be principal.",
        "suggestion": "principal keeper",
        "website": "",
    }
    body.update(overrides)
    return body


@pytest.fixture
def site_key(make_site):
    """The key of a site that takes reports from ORIGIN."""
    return make_site(origins=[ORIGIN])


class LiveServer:
    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(app):
    """The app served on a real port in a background thread (``.url``, ``.app``)."""
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def demo(live_server):
    """The demo site, article and editor, seeded into the live server's database."""
    from copydesk.demo import seed_demo
    live_server.app.config["DEMO"] = True
    with live_server.app.app_context():
        site, email, password = seed_demo(
            [live_server.url, f"http://localhost:{live_server.port}"], password="demo-password-123")
        key = site.key
    return {"site_key": key, "email": email, "password": password,
            "article_url": live_server.url + "/demo/"}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's) for the whole run."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser):
    """Make browser contexts with custom options; all are closed after the test."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh browser context."""
    return new_context().new_page()


def rows(app, statement):
    """Run a select in the app's database and return all rows."""
    with app.app_context():
        return db.session.execute(statement).all()


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``copydesk serve`` in a subprocess of its own process group, on a free port.

    stdout and stderr go to files (``.stdout_path``, ``.stderr_path``) so the JSON
    log lines can be read after the server stops.
    """

    def __init__(self, database_url, workdir, workers=2, threads=4, env=None, port=None):
        import subprocess
        import sys
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / f"serve-{self.port}.stdout"
        self.stderr_path = workdir / f"serve-{self.port}.stderr"
        # Tests that need exact rate limits across processes use Redis or one worker.
        full_env = {**os.environ, "COPYDESK_DATABASE_URL": database_url,
                    "COPYDESK_SECRET_KEY": TEST_SECRET_KEY,
                    "COPYDESK_INSTANCE_PATH": str(workdir / "instance"),
                    "COPYDESK_RATELIMIT_PER_PROCESS": "true",
                    **{f"COPYDESK_{k}": v for k, v in TEST_LIMITS.items()}, **(env or {})}
        command = [str(Path(sys.executable).parent / "copydesk"), "serve",
                   "--bind", f"127.0.0.1:{self.port}", *(["--workers", str(workers)] if workers else [])]
        if threads:
            full_env["COPYDESK_THREADS"] = str(threads)
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(command, env=full_env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout=30):
        import time

        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"copydesk serve exited with {self.process.returncode}: "
                                   f"{self.stderr_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"copydesk serve not ready after {timeout}s: {self.stderr_path.read_text()[-2000:]}")

    def signal(self, sig):
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=None):
        """SIGTERM: gunicorn finishes the requests in flight, then exits, after at most its
        graceful timeout (a connection left open waits that long): only then a SIGKILL."""
        import signal
        import subprocess

        from copydesk.server import GRACEFUL_SECONDS
        timeout = GRACEFUL_SECONDS + 15 if timeout is None else timeout
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self):
        """SIGKILL to the whole process group: master and workers die at once."""
        import signal
        self.signal(signal.SIGKILL)
        self.process.wait(10)

    def log_lines(self, stream="stdout"):
        path = self.stdout_path if stream == "stdout" else self.stderr_path
        return [line for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def serve(tmp_path):
    """Start ``copydesk serve`` processes: ``serve(database_url, **options)``; all are
    stopped after the test."""
    started = []

    def start(database_url, **options):
        server = ServeProcess(database_url, tmp_path / "serve", **options)
        started.append(server)
        return server.wait_ready()
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback; ``.mails`` holds what it accepted."""
    from receivers import SMTPServer
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def test_ca():
    """A certificate authority for TLS tests; ``SSL_CERT_FILE`` points senders at it."""
    import trustme
    return trustme.CA()


@pytest.fixture
def trust_test_ca(test_ca, tmp_path, monkeypatch):
    """Python's default SSL context (in this process and its children) trusts ``test_ca``."""
    path = tmp_path / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return path


@pytest.fixture
def http_receiver():
    """A real HTTP server on loopback recording every request (webhooks, Slack, Telegram)."""
    from receivers import HTTPReceiver
    receiver = HTTPReceiver().start()
    yield receiver
    receiver.stop()
