"""notifications

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:37:01

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.Column('last_run_at', sa.DateTime(), nullable=True),
    sa.Column('last_outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job'))
    )
    op.create_table('notify_author',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('author_key', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_notify_author_editor_id_editor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_notify_author_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_author')),
    sa.UniqueConstraint('site_id', 'author_key', name=op.f('uq_notify_author_site_id_author_key'))
    )
    op.create_table('notify_preference',
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_notify_preference_editor_id_editor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_notify_preference_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('editor_id', 'site_id', name=op.f('pk_notify_preference'))
    )
    op.create_table('notify_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=16), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('match_field', sa.String(length=16), nullable=False),
    sa.Column('match_value', sa.String(length=200), nullable=False),
    sa.Column('match_key', sa.String(length=200), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('previous_secret', sa.Text(), nullable=False),
    sa.Column('previous_secret_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_notify_rule_editor_id_editor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_notify_rule_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_rule'))
    )
    with op.batch_alter_table('notify_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_rule_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ux_notify_rule_same', ['site_id', 'recipient', 'target', 'match_field', 'match_key'], unique=True, sqlite_where=sa.text('editor_id IS NULL'), postgresql_where=sa.text('editor_id IS NULL'))
        batch_op.create_index('ux_notify_rule_same_editor', ['site_id', 'editor_id', 'match_field', 'match_key'], unique=True, sqlite_where=sa.text('editor_id IS NOT NULL'), postgresql_where=sa.text('editor_id IS NOT NULL'))

    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('recipient_key', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_delivery_editor_id_editor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['notify_rule.id'], name=op.f('fk_delivery_rule_id_notify_rule'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_delivery_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_delivery_submission_id_submission'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('public_id', name=op.f('uq_delivery_public_id'))
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_digest', ['recipient_key', 'due_at'], unique=True, sqlite_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')"), postgresql_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')"))
        batch_op.create_index('ix_delivery_due', ['next_attempt_at'], unique=False, sqlite_where=sa.text("state IN ('pending', 'sending')"), postgresql_where=sa.text("state IN ('pending', 'sending')"))
        batch_op.create_index('ix_delivery_site_id_id', ['site_id', 'id'], unique=False)
        batch_op.create_index('ix_delivery_rule_id', ['rule_id'], unique=False, sqlite_where=sa.text('rule_id IS NOT NULL'), postgresql_where=sa.text('rule_id IS NOT NULL'))
        batch_op.create_index('ix_delivery_editor_id', ['editor_id'], unique=False, sqlite_where=sa.text('editor_id IS NOT NULL'), postgresql_where=sa.text('editor_id IS NOT NULL'))
        batch_op.create_index('ix_delivery_submission_id', ['submission_id'], unique=False, sqlite_where=sa.text('submission_id IS NOT NULL'), postgresql_where=sa.text('submission_id IS NOT NULL'))

    op.create_table('delivery_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], name=op.f('fk_delivery_item_delivery_id_delivery'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_delivery_item_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_item'))
    )
    with op.batch_alter_table('delivery_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_item_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_item_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('report', schema=None) as batch_op:
        # Reports filed before notifications existed are not announced now.
        batch_op.add_column(sa.Column('notify_due', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('announced_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_report_notify_due', ['id'], unique=False, sqlite_where=sa.text('notify_due = 1'), postgresql_where=sa.text('notify_due'))
    # ... and count as announced at their readers so far: one that reaches a milestone later
    # is announced as a repeat ("Now reported by 5 readers"), not as a new report.
    report = sa.table('report', sa.column('submission_count', sa.Integer), sa.column('announced_count', sa.Integer))
    op.execute(report.update().values(announced_count=report.c.submission_count))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader_followup', sa.Boolean(), nullable=False, server_default=sa.false()))

    # Sites that existed before notifications start like a new site (Rule.for_new_site):
    # everyone on the desk hears their reports, each in their own mode (daily by default).
    site = sa.table('site', sa.column('id', sa.Integer))
    rule = sa.table('notify_rule', sa.column('site_id', sa.Integer), sa.column('recipient', sa.String),
                    sa.column('target', sa.Text), sa.column('mode', sa.String),
                    sa.column('match_field', sa.String), sa.column('match_value', sa.String),
                    sa.column('match_key', sa.String), sa.column('token', sa.Text), sa.column('secret', sa.Text),
                    sa.column('previous_secret', sa.Text), sa.column('created_at', sa.DateTime))
    conn = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for (site_id,) in conn.execute(sa.select(site.c.id)).all():
        conn.execute(rule.insert().values(
            site_id=site_id, recipient='everyone', target='', mode='instant', match_field='',
            match_value='', match_key='', token='', secret='', previous_secret='', created_at=now))

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader_email', sa.String(length=254), nullable=True))



def downgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('reader_email')

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('reader_followup')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index('ix_report_notify_due', sqlite_where=sa.text('notify_due = 1'), postgresql_where=sa.text('notify_due'))
        batch_op.drop_column('announced_count')
        batch_op.drop_column('notify_due')

    with op.batch_alter_table('delivery_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_item_report_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_item_delivery_id'))

    op.drop_table('delivery_item')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_submission_id', sqlite_where=sa.text('submission_id IS NOT NULL'), postgresql_where=sa.text('submission_id IS NOT NULL'))
        batch_op.drop_index('ix_delivery_editor_id', sqlite_where=sa.text('editor_id IS NOT NULL'), postgresql_where=sa.text('editor_id IS NOT NULL'))
        batch_op.drop_index('ix_delivery_rule_id', sqlite_where=sa.text('rule_id IS NOT NULL'), postgresql_where=sa.text('rule_id IS NOT NULL'))
        batch_op.drop_index('ix_delivery_site_id_id')
        batch_op.drop_index('ix_delivery_due', sqlite_where=sa.text("state IN ('pending', 'sending')"), postgresql_where=sa.text("state IN ('pending', 'sending')"))
        batch_op.drop_index('ix_delivery_digest', sqlite_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')"), postgresql_where=sa.text("state = 'pending' AND mode IN ('hourly', 'daily')"))

    op.drop_table('delivery')
    with op.batch_alter_table('notify_rule', schema=None) as batch_op:
        batch_op.drop_index('ux_notify_rule_same_editor', sqlite_where=sa.text('editor_id IS NOT NULL'), postgresql_where=sa.text('editor_id IS NOT NULL'))
        batch_op.drop_index('ux_notify_rule_same', sqlite_where=sa.text('editor_id IS NULL'), postgresql_where=sa.text('editor_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_notify_rule_site_id'))

    op.drop_table('notify_rule')
    op.drop_table('notify_preference')
    op.drop_table('notify_author')
    op.drop_table('job')
