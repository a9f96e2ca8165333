"""Add exchange relations between wards and municipalities

Revision ID: cdb6cfdd846c
Revises: e5a9c4b1d2f7
Create Date: 2026-12-01 23:08:13.301826

A new table only: a ward's standing relationship with a municipality (交流自治体), its kind and the day it began,
recorded by moderators and counted by the statistics. One row per ward, municipality and kind.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cdb6cfdd846c'
down_revision = 'e5a9c4b1d2f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('exchange_relation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('sister_city', 'friendship', 'disaster_aid', 'other', name='exchange_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ward_id <> municipality_id', name=op.f('ck_exchange_relation_two_organizations')),
    sa.ForeignKeyConstraint(['municipality_id'], ['organization.id'], name=op.f('fk_exchange_relation_municipality_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ward_id'], ['organization.id'], name=op.f('fk_exchange_relation_ward_id_organization'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_relation')),
    sa.UniqueConstraint('ward_id', 'municipality_id', 'kind', name='uq_exchange_relation_ward_municipality_kind')
    )
    with op.batch_alter_table('exchange_relation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_relation_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_relation_ward_id'), ['ward_id'], unique=False)



def downgrade():
    with op.batch_alter_table('exchange_relation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_relation_ward_id'))
        batch_op.drop_index(batch_op.f('ix_exchange_relation_municipality_id'))

    op.drop_table('exchange_relation')
