"""kinds of error, and a site language that may follow the page

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=True))

    with op.batch_alter_table('report', schema=None) as batch_op:
        # Readers never chose a kind before: every count starts at 0.
        batch_op.add_column(sa.Column('typo_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('fact_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('link_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('other_count', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('site', schema=None) as batch_op:
        # Existing sites ask readers for the kind too.
        batch_op.add_column(sa.Column('kinds_enabled', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.alter_column('language', existing_type=sa.String(length=35), nullable=True)

    # The dialog used to prefer the page's <html lang> to the site's language; now a site's
    # chosen language comes first. "en" was the default nobody had to choose: those sites
    # follow the page, so their readers see what they saw before. Any other language was
    # chosen, and stays.
    site = sa.table('site', sa.column('language', sa.String))
    op.get_bind().execute(site.update().where(site.c.language == 'en').values(language=None))


def downgrade():
    site = sa.table('site', sa.column('language', sa.String))
    # A site following the page had no such choice before: it falls back to English.
    op.get_bind().execute(site.update().where(site.c.language.is_(None)).values(language='en'))
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.alter_column('language', existing_type=sa.String(length=35), nullable=False)
        batch_op.drop_column('kinds_enabled')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('other_count')
        batch_op.drop_column('link_count')
        batch_op.drop_column('fact_count')
        batch_op.drop_column('typo_count')

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('kind')
