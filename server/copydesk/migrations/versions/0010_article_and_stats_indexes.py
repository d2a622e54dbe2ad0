"""indexes for the article view by article id, the report page's suggestions and the stats page

Plain CREATE INDEX (not batch mode): on SQLite a batch operation may copy the report table,
which would drop the search triggers of 0009.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:25:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # The article view by article id (most reports have none: partial).
    op.create_index('ix_report_site_article_id_status_id', 'report', ['site_id', 'article_id', 'status', 'id'],
                    sqlite_where=sa.text("article_id <> ''"), postgresql_where=sa.text("article_id <> ''"))
    # The report page's suggestions, counted; partial: most submissions suggest nothing.
    op.create_index('ix_submission_report_id_suggested', 'submission', ['report_id'],
                    sqlite_where=sa.text("suggestion <> ''"), postgresql_where=sa.text("suggestion <> ''"))
    # The stats page: reports per day in a period; open reports by site, section and author.
    op.create_index('ix_report_created_at_site_status', 'report', ['created_at', 'site_id', 'status', 'resolution'])
    op.create_index('ix_report_site_section_author_status', 'report',
                    ['site_id', 'article_section', 'article_author', 'status'])


def downgrade():
    op.drop_index('ix_report_site_section_author_status', table_name='report')
    op.drop_index('ix_report_created_at_site_status', table_name='report')
    op.drop_index('ix_submission_report_id_suggested', table_name='submission')
    op.drop_index('ix_report_site_article_id_status_id', table_name='report')
