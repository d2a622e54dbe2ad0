"""Is the database at the schema this version of Copydesk needs? One answer for the
commands, ``copydesk serve`` and the web pages, each of which says to run
``copydesk db upgrade`` rather than failing on a missing table."""

import functools
import logging

import click
from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from . import PACKAGE_DIR
from .db import db


class SchemaNotReady(click.ClickException):
    """The database cannot be reached, or is not at this version's schema; the message
    says what to do (a command prints it and exits with 1)."""


@functools.cache
def head_revisions():
    """The revisions this version's migrations end at: read once, they never change while it runs."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(PACKAGE_DIR / "migrations")).get_heads())


def migration_state(app, dispose=True):
    """(current revisions, head revisions) of the app's database."""
    from alembic.runtime.migration import MigrationContext

    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        finally:
            if dispose:  # server workers are forked from this process: they must not share its connections
                db.engine.dispose()
    return current, set(head_revisions())


def check_schema(app, dispose=True):
    """Raise SchemaNotReady unless the database is reachable and fully upgraded. Nothing
    migrates by itself: several app servers must not race to change the schema."""
    try:
        current, heads = migration_state(app, dispose)
    except SQLAlchemyError as err:
        error = f"{err.__class__.__name__}: {getattr(err, 'orig', None) or err}"
        raise SchemaNotReady(_("Cannot reach the database (%(error)s). Check COPYDESK_DATABASE_URL.",
                               error=error)) from None
    if current != heads:
        have = ", ".join(sorted(current)) or _("none (empty database)")
        raise SchemaNotReady(
            _("The database schema is at revision %(have)s, this version of Copydesk needs %(needs)s. "
              "Run `copydesk db upgrade` first, then start again.", have=have, needs=", ".join(sorted(heads))))


def init_app(app):
    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def _schema_not_ready(err):
        # A missing table is an operator's step left out, not a bug: say which step.
        db.session.rollback()
        try:
            check_schema(current_app, dispose=False)
        except SchemaNotReady as problem:
            current_app.logger.error("%s %s: %s", request.method, request.path, problem)
            headers = {"Cache-Control": "no-store", "Retry-After": "60"}
            if request.blueprint == "api":  # the widget reads the API's one error shape
                from .api import error_response
                response = error_response(503, problem.message)
                response.headers.update(headers)
                return response
            return problem.message + "\n", 503, {"Content-Type": "text/plain; charset=utf-8", **headers}
        raise err
