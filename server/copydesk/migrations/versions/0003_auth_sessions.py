"""login attempts and editor sessions kept in the database

Login throttling counts in the database so it is exact across processes and servers,
and sessions end server-side (logout, idle timeout, absolute lifetime).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'editor_session',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('editor_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['editor_id'], ['editor.id'], name=op.f('fk_editor_session_editor_id_editor'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_editor_session')),
    )
    with op.batch_alter_table('editor_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editor_session_editor_id'), ['editor_id'], unique=False)

    op.create_table(
        'login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('account_hash', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt')),
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_account_hash_created_at', ['account_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempt_address_hash_created_at', ['address_hash', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempt_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempt_created_at'))
        batch_op.drop_index('ix_login_attempt_address_hash_created_at')
        batch_op.drop_index('ix_login_attempt_account_hash_created_at')
    op.drop_table('login_attempt')

    with op.batch_alter_table('editor_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editor_session_editor_id'))
    op.drop_table('editor_session')
