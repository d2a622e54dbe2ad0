"""indexes for the report detail page at scale

The detail page lists a report's latest submissions and the reports that reopened
it; at 200,000 reports and 1,000,000 submissions both scanned or sorted too much.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 05:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index('ix_report_previous_report_id', ['previous_report_id'], unique=False,
                              sqlite_where=sa.text('previous_report_id IS NOT NULL'),
                              postgresql_where=sa.text('previous_report_id IS NOT NULL'))
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index('ix_submission_report_id_id', ['report_id', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_submission_report_id'))


def downgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_report_id'), ['report_id'], unique=False)
        batch_op.drop_index('ix_submission_report_id_id')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index('ix_report_previous_report_id')
