"""page checks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_check',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.Column('next_check_at', sa.DateTime(), nullable=False),
    sa.Column('detail_json', sa.Text(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_page_check_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_page_check'))
    )
    with op.batch_alter_table('page_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_check_next_check_at'), ['next_check_at'], unique=False)

    op.create_table('page_check_request',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_page_check_request_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_page_check_request'))
    )
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_every_hours', sa.Integer(), nullable=False, server_default='24'))


def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('check_every_hours')
    op.drop_table('page_check_request')
    with op.batch_alter_table('page_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_check_next_check_at'))
    op.drop_table('page_check')
