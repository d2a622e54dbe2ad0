"""``copydesk serve``: the app under gunicorn, configured from COPYDESK_* settings."""

import gc
import logging
import multiprocessing

import click
from gunicorn.app.base import BaseApplication

from . import PACKAGE_DIR, create_app
from .logs import JsonLogger, configure_app_logging

MAX_DEFAULT_WORKERS = 8


class CopydeskServer(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            # Newer gunicorn settings are skipped on versions that lack them.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        return self.application


def default_workers():
    return min(2 * multiprocessing.cpu_count() + 1, MAX_DEFAULT_WORKERS)


def migration_state(app):
    """(current revisions, head revisions) of the app's database."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .db import db
    logging.getLogger("alembic").setLevel(logging.WARNING)
    script = ScriptDirectory(str(PACKAGE_DIR / "migrations"))
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        finally:
            # Workers are forked from this process: they must not share its connections.
            db.engine.dispose()
    return current, set(script.get_heads())


def check_migrated(app):
    """Refuse to serve a database whose schema is not the one this version expects:
    several app servers must not race to migrate it, so upgrading is a separate step."""
    from sqlalchemy.exc import SQLAlchemyError
    try:
        current, heads = migration_state(app)
    except SQLAlchemyError as err:
        raise click.ClickException(
            f"Cannot reach the database ({err.__class__.__name__}: {getattr(err, 'orig', None) or err}). "
            "Check COPYDESK_DATABASE_URL.") from None
    if current != heads:
        have = ", ".join(sorted(current)) or "none (empty database)"
        raise click.ClickException(
            f"The database schema is at revision {have}, this version of Copydesk needs "
            f"{', '.join(sorted(heads))}. Run `copydesk db upgrade` first, then start the server again.")


def server_options(config, bind=None, workers=None, threads=None):
    return {
        "bind": bind or config["BIND"],
        "workers": int(workers or config["WORKERS"] or default_workers()),
        "threads": int(threads or config["THREADS"]),
        "worker_class": "gthread",
        "timeout": int(config["TIMEOUT"]),
        "graceful_timeout": 20,
        "keepalive": 5,
        # A worker leaks nothing over time this way, and restarts are staggered.
        "max_requests": 20000,
        "max_requests_jitter": 2000,
        "accesslog": "-",
        "errorlog": "-",
        "logger_class": JsonLogger,
        "capture_output": False,
        # ProxyFix (TRUSTED_PROXIES) decides which forwarded headers count, not gunicorn.
        "forwarded_allow_ips": "127.0.0.1",
        "proc_name": "copydesk",
        # One fixed socket path per user would clash between several servers on one machine.
        "control_socket_disable": True,
    }


def serve(bind=None, workers=None, threads=None):
    configure_app_logging()
    app = create_app()
    check_migrated(app)
    JsonLogger.ip_key = app.config["SECRET_KEY"].encode()
    options = server_options(app.config, bind=bind, workers=workers, threads=threads)
    # What the app loaded stays shared with the forked workers, and their garbage
    # collector stops walking it on every collection.
    gc.collect()
    gc.freeze()
    CopydeskServer(app, options).run()
