"""the stats page's rollups, kept by triggers

- report_day: reports per site, day filed (UTC), status and resolution ("" while none).
- report_open_page: open reports per site and page (the top pages).
- report_open_by: open reports per site, section and author.

The stats page counts a year across every site from these few thousand rows instead of
every report. Triggers on report keep them current (intake, triage, reopen, edits, delete,
site removal), as 0009 keeps the search index: no code path can forget them. A row that
falls to 0 reports is deleted.

A later migration that rebuilds the report table on SQLite (batch mode copies the table)
drops these triggers with it and must make them again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 13:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OPEN = "{row}.status IN ('new', 'confirmed')"


def _rollups(dialect):
    """{table: (its key columns with their value from a report row, the report columns whose
    change moves a report between rows, the condition for a report to count or None)}."""
    day = "date({row}.created_at)" if dialect == "sqlite" else "{row}.created_at::date"
    return {
        "report_day": ({"site_id": "{row}.site_id", "day": day, "status": "{row}.status",
                        "resolution": "coalesce({row}.resolution, '')"},
                       ("status", "resolution", "created_at", "site_id"), None),
        "report_open_page": ({"site_id": "{row}.site_id", "page_key": "{row}.page_key"},
                             ("status", "site_id", "page_key"), OPEN),
        "report_open_by": ({"site_id": "{row}.site_id", "article_section": "{row}.article_section",
                            "article_author": "{row}.article_author"},
                           ("status", "site_id", "article_section", "article_author"), OPEN),
    }


def upgrade():
    def site_id():
        return sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False)

    op.create_table(
        "report_day", site_id(),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "day", "status", "resolution", name="pk_report_day"),
    )
    # Every site's days in a period, read from the index alone in the order they are summed.
    op.create_index("ix_report_day_day", "report_day", ["day", "status", "resolution", "site_id", "reports"])
    op.create_table(
        "report_open_page", site_id(),
        sa.Column("page_key", sa.Text, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "page_key", name="pk_report_open_page"),
    )
    # The most reported pages, across sites or in one, read from the top of an index.
    op.create_index("ix_report_open_page_reports", "report_open_page", [sa.text("reports DESC"), "page_key", "site_id"])
    op.create_index("ix_report_open_page_site_reports", "report_open_page", ["site_id", sa.text("reports DESC"), "page_key"])
    op.create_table(
        "report_open_by", site_id(),
        sa.Column("article_section", sa.String(200), nullable=False),
        sa.Column("article_author", sa.String(200), nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "article_section", "article_author", name="pk_report_open_by"),
    )
    dialect = op.get_bind().dialect.name
    for table, (keys, watched, condition) in _rollups(dialect).items():
        if dialect == "sqlite":
            _sqlite_triggers(table, keys, watched, condition)
        else:
            _postgresql_triggers(table, keys, watched, condition)
        values = ", ".join(value.format(row="report") for value in keys.values())
        where = f" WHERE {condition.format(row='report')}" if condition else ""
        op.execute(f"INSERT INTO {table} ({', '.join(keys)}, reports) SELECT {values}, count(*) FROM report"
                   f"{where} GROUP BY {values}")


def downgrade():
    for table in ("report_open_by", "report_open_page", "report_day"):
        if op.get_bind().dialect.name == "sqlite":
            for trigger in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{trigger}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_insert_delete ON report")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_update ON report")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_changed()")
    op.drop_table("report_open_by")
    op.drop_index("ix_report_open_page_site_reports", table_name="report_open_page")
    op.drop_index("ix_report_open_page_reports", table_name="report_open_page")
    op.drop_table("report_open_page")
    op.drop_index("ix_report_day_day", table_name="report_day")
    op.drop_table("report_day")


def _matching(keys, row):
    return " AND ".join(f"{column} = {value.format(row=row)}" for column, value in keys.items())


def _add(table, keys, row, condition):
    """One more report in the row of ``row`` (a SELECT, so it can be conditional)."""
    values = ", ".join(value.format(row=row) for value in keys.values())
    where = condition.format(row=row) if condition else "true"
    return (f"INSERT INTO {table} ({', '.join(keys)}, reports) SELECT {values}, 1 WHERE {where} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET reports = {table}.reports + 1;")


def _take(table, keys, row, condition):
    """One report fewer in the row of ``row``; the row goes at 0."""
    where = _matching(keys, row) + (f" AND {condition.format(row=row)}" if condition else "")
    return (f"UPDATE {table} SET reports = reports - 1 WHERE {where};"
            f"DELETE FROM {table} WHERE {where} AND reports <= 0;")


# --- SQLite ---------------------------------------------------------------------------------

def _sqlite_triggers(table, keys, watched, condition):
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in watched)
    op.execute(f"CREATE TRIGGER {table}_insert AFTER INSERT ON report BEGIN "
               f"{_add(table, keys, 'new', condition)} END")
    op.execute(f"CREATE TRIGGER {table}_update AFTER UPDATE OF {', '.join(watched)} ON report WHEN {changed} "
               f"BEGIN {_take(table, keys, 'old', condition)} {_add(table, keys, 'new', condition)} END")
    op.execute(f"CREATE TRIGGER {table}_delete AFTER DELETE ON report BEGIN "
               f"{_take(table, keys, 'old', condition)} END")


# --- PostgreSQL -----------------------------------------------------------------------------

def _postgresql_triggers(table, keys, watched, condition):
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in watched)
    op.execute(f"""CREATE FUNCTION {table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP <> 'INSERT' THEN {_take(table, keys, 'OLD', condition)} END IF;
        IF TG_OP <> 'DELETE' THEN {_add(table, keys, 'NEW', condition)} END IF;
        RETURN NULL;
        END $$""")
    op.execute(f"CREATE TRIGGER {table}_insert_delete AFTER INSERT OR DELETE ON report "
               f"FOR EACH ROW EXECUTE FUNCTION {table}_changed()")
    op.execute(f"CREATE TRIGGER {table}_update AFTER UPDATE OF {', '.join(watched)} ON report FOR EACH ROW "
               f"WHEN ({changed}) EXECUTE FUNCTION {table}_changed()")
