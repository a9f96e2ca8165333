"""Name the queue item a moderator's notice is about, so that deciding it reads every moderator's notice of it

Revision ID: b3c1d2e4f5a6
Revises: f06b236f6013
Create Date: 2026-12-01 20:00:00

The column is added in place on both databases; existing notices have no subject and stay as they are.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c1d2e4f5a6'
down_revision = 'f06b236f6013'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('notification', sa.Column('subject', sa.String(length=40), nullable=True))
    op.create_index('ix_notification_subject', 'notification', ['subject'], unique=False)


def downgrade():
    op.drop_index('ix_notification_subject', table_name='notification')
    op.drop_column('notification', 'subject')
