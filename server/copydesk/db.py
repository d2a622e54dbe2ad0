"""The database handle, and the SQLite settings that make it safe to share."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy import SQLAlchemy


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention={
        # Stable constraint names so Alembic migrations match on SQLite and PostgreSQL.
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)


def configure_sqlite(engine, synchronous="NORMAL"):
    """WAL lets the dashboard read while reports are written; the busy timeout
    makes concurrent writers wait instead of failing with "database is locked"."""

    @sa.event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


# Made by migrations 0009 (the search index) and 0011 (the stats rollups) and kept by
# triggers: no model's tables, so autogenerate (`copydesk db check`, the schema test) must
# neither drop nor report them, nor FTS5's own tables.
KEPT_BY_TRIGGERS = ("report_search", "ix_report_search", "report_day", "ix_report_day", "report_open",
                    "ix_report_open")


def include_in_autogenerate(object_, name, type_, reflected, compare_to):
    """Alembic's include_object: everything but what migrations keep by triggers."""
    return not (name or "").startswith(KEPT_BY_TRIGGERS)
