"""the assignee index holds assigned reports only

Most reports are assigned to nobody. SQLite's ANALYZE counts the NULLs as one value held by
nearly every report, so its planner took the index for useless and read every open report
for an editor's "Mine" list (60 ms at 200,000 reports). Partial, the index holds only the
assigned reports, and both databases use it for "Mine" and for an editor's assignments.

Plain DROP/CREATE INDEX (not batch mode): on SQLite a batch operation may copy the report
table, which would drop the search triggers of 0009 and the rollup triggers of 0011.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 16:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLUMNS = ['assignee_id', 'status', 'id']


def upgrade():
    op.drop_index('ix_report_assignee_status_id', table_name='report')
    op.create_index('ix_report_assignee_status_id', 'report', COLUMNS,
                    sqlite_where=sa.text('assignee_id IS NOT NULL'),
                    postgresql_where=sa.text('assignee_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_report_assignee_status_id', table_name='report')
    op.create_index('ix_report_assignee_status_id', 'report', COLUMNS)
