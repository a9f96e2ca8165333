"""Suspension of accounts and organizations (reason, time, who, what to give back), and the inactivity warning

Revision ID: 5714d5b23d6a
Revises: 07c4aebd2300
Create Date: 2026-12-01 16:21:57.766985

Every change adds a column, which both databases do in place. On SQLite the foreign key of user.suspended_by_id is
written with its column: a constraint added afterwards would copy the user table, and the copy cannot drop the old
table while the moderation log refers to its rows. (SQLite cannot show such a key's name or ON DELETE to a reader
comparing schemas, so it has neither: a moderator's account is never deleted anyway.)
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5714d5b23d6a'
down_revision = '07c4aebd2300'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspension_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('membership_before_suspension', sa.Enum('none', 'pending', 'member', 'suspended', name='membership_before_suspension', native_enum=False), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspension_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reinstated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inactivity_warned_at', sa.DateTime(timezone=True), nullable=True))

    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            'ALTER TABLE "user" ADD COLUMN suspended_by_id INTEGER'
            ' CONSTRAINT fk_user_suspended_by_id_user REFERENCES "user" (id)'
        )
    else:
        op.add_column('user', sa.Column('suspended_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_user_suspended_by_id_user'), 'user', 'user', ['suspended_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        if op.get_bind().dialect.name != 'sqlite':  # SQLite drops the constraint with its column, copying the table
            batch_op.drop_constraint(batch_op.f('fk_user_suspended_by_id_user'), type_='foreignkey')
        batch_op.drop_column('suspended_by_id')
        batch_op.drop_column('inactivity_warned_at')
        batch_op.drop_column('reinstated_at')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('suspension_reason')

    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_column('membership_before_suspension')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('suspension_reason')
