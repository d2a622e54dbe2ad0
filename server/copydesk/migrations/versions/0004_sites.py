"""unique site names and site removal

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.Text(), nullable=True))

    # Existing duplicates (in any case) get a number: "Daily", "Daily (2)", ...
    site = sa.table('site', sa.column('id', sa.Integer), sa.column('name', sa.String),
                    sa.column('name_key', sa.Text))
    conn = op.get_bind()
    taken = set()
    for site_id, name in conn.execute(sa.select(site.c.id, site.c.name).order_by(site.c.id)).all():
        base, number = name.strip(), 1
        while (name.strip().casefold()) in taken:
            number += 1
            name = f"{base[:190]} ({number})"
        taken.add(name.strip().casefold())
        conn.execute(site.update().where(site.c.id == site_id)
                     .values(name=name, name_key=name.strip().casefold()))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_site_name_key'), ['name_key'])
        batch_op.drop_column('notify_emails')


def downgrade():
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_emails', sa.Text(), nullable=False, server_default=''))
        batch_op.drop_constraint(batch_op.f('uq_site_name_key'), type_='unique')
        batch_op.drop_column('name_key')
