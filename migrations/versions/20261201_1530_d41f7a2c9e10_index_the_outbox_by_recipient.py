"""Index the outbox by recipient and time, for the cap on mail anyone can have sent to an address

Revision ID: d41f7a2c9e10
Revises: 5c9266ae8c3a
Create Date: 2026-12-01 15:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd41f7a2c9e10'
down_revision = '5c9266ae8c3a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_recipient_created_at', ['recipient', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_recipient_created_at')
