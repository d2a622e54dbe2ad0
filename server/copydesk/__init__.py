"""Copydesk: typo reports from readers, triaged by editors."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from . import config

PACKAGE_DIR = Path(__file__).resolve().parent


def _static_folder():
    # In the wheel the built widget lives inside the package; in a checkout, at the top level.
    packaged = PACKAGE_DIR / "static"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent.parent / "static"


def _instance_secret(instance_path):
    """A key generated once and kept, so sessions survive restarts on one machine."""
    from .security import create_private_file
    path = Path(instance_path) / "secret_key"
    create_private_file(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


def _create_private_sqlite_file(database_url):
    """SQLite would create the file (and its -wal and -shm, which copy its mode) readable
    by every local user; an empty file created 0600 first is a valid empty database."""
    from sqlalchemy.engine import make_url

    from .security import create_private_file
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return
    path = Path(url.database)
    if path.parent.is_dir():
        create_private_file(path)


def instance_path():
    """The instance folder, one rule for every command and server: $COPYDESK_INSTANCE_PATH,
    else ``instance`` in the current directory (never next to the installed package)."""
    return str(Path(os.environ.get("COPYDESK_INSTANCE_PATH") or "instance").resolve())


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True,
                static_folder=str(_static_folder()), static_url_path="/static",
                instance_path=instance_path())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    # Defaults first, then the instance config file, then COPYDESK_* variables, then tests.
    app.config.from_mapping(config.defaults())
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("COPYDESK")
    # from_prefixed_env reads values as JSON: a key of digits would become a number.
    if os.environ.get("COPYDESK_SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["COPYDESK_SECRET_KEY"]
    if test_config:
        app.config.from_mapping(test_config)
    config.check_settings(app.config)

    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "copydesk.sqlite3")
    _create_private_sqlite_file(app.config["DATABASE_URL"])
    app.config.update(
        SQLALCHEMY_DATABASE_URI=app.config["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        RATELIMIT_STORAGE_URI=app.config["RATELIMIT_STORAGE_URL"],
        # A rate-limit store that is down lets requests through (logged): never a 500.
        RATELIMIT_STORAGE_OPTIONS={"wrap_exceptions": True}, RATELIMIT_SWALLOW_ERRORS=True,
        # Said for every app: the limiter object is shared, and would otherwise carry one
        # app's "off" over to every app made after it in the same process.
        RATELIMIT_ENABLED=app.config.get("RATELIMIT_ENABLED", True),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
        # Not even a validly signed cookie outlives a session's absolute lifetime.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_LIFETIME_HOURS"]),
    )

    # Behind N trusted proxies, take the client address and scheme from their headers.
    if int(app.config["TRUSTED_PROXIES"]):
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from .db import configure_sqlite, db
    from .extensions import csrf, limiter, login_manager, migrate
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_SYNCHRONOUS"])
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    from . import i18n
    i18n.init_app(app)  # gettext in templates and code, each editor's language and time zone

    from . import api, auth, dashboard, demo, security
    from .notify import models as _notify_tables  # noqa: F401 (their tables are part of the schema)
    from .checks import models as _check_tables  # noqa: F401 (the same)
    # The widget's API takes JSON from other origins and carries no cookies: no CSRF there.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(demo.bp)
    from .health import bp as health_bp
    app.register_blueprint(health_bp)
    from . import assets
    assets.init_app(app)  # the widget's files, cached and compressed, ahead of Flask's plain static route
    security.init_app(app)
    from . import logs, schema_version
    logs.init_app(app)
    schema_version.init_app(app)  # a missing table answers "run `copydesk db upgrade`"

    from .cli import register_commands
    register_commands(app)
    return app
