"""triage (assignment, duplicates, sender blocks, the desk's audit trail), sites per
editor, and each editor's language and time zone

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('detail_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_audit_entry_editor_id_editor'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_created_at'), ['created_at'], unique=False)

    op.create_table('editor_site',
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_editor_site_editor_id_editor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_editor_site_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('editor_id', 'site_id', name=op.f('pk_editor_site'))
    )
    with op.batch_alter_table('editor_site', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editor_site_site_id'), ['site_id'], unique=False)

    op.create_table('sender_block',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['editor.id'], name=op.f('fk_sender_block_created_by_id_editor'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_sender_block_report_id_report'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_sender_block_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_block'))
    )
    with op.batch_alter_table('sender_block', schema=None) as batch_op:
        batch_op.create_index('ix_sender_block_site_ip_hash_until', ['site_id', 'ip_hash', 'until'], unique=False)

    with op.batch_alter_table('editor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_report_assignee_status_id', ['assignee_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_report_duplicate_of_id', ['duplicate_of_id'], unique=False, sqlite_where=sa.text('duplicate_of_id IS NOT NULL'), postgresql_where=sa.text('duplicate_of_id IS NOT NULL'))
        batch_op.create_index('ix_report_site_page_key_status', ['site_id', 'page_key', 'status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_report_duplicate_of_id_report'), 'report', ['duplicate_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_report_assignee_id_editor'), 'editor', ['assignee_id'], ['id'])

    # Editors saw every site before sites per editor: they keep seeing the sites there are.
    bind = op.get_bind()
    editor = sa.table('editor', sa.column('id', sa.Integer), sa.column('role', sa.String))
    site = sa.table('site', sa.column('id', sa.Integer))
    editor_site = sa.table('editor_site', sa.column('editor_id', sa.Integer), sa.column('site_id', sa.Integer))
    bind.execute(editor_site.insert().from_select(
        ['editor_id', 'site_id'],
        sa.select(editor.c.id, site.c.id).select_from(editor.join(site, sa.true())).where(editor.c.role != 'admin')))



def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_assignee_id_editor'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_report_duplicate_of_id_report'), type_='foreignkey')
        batch_op.drop_index('ix_report_site_page_key_status')
        batch_op.drop_index('ix_report_duplicate_of_id', sqlite_where=sa.text('duplicate_of_id IS NOT NULL'), postgresql_where=sa.text('duplicate_of_id IS NOT NULL'))
        batch_op.drop_index('ix_report_assignee_status_id')
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('editor', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('language')

    with op.batch_alter_table('sender_block', schema=None) as batch_op:
        batch_op.drop_index('ix_sender_block_site_ip_hash_until')

    op.drop_table('sender_block')
    with op.batch_alter_table('editor_site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editor_site_site_id'))

    op.drop_table('editor_site')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_created_at'))

    op.drop_table('audit_entry')
