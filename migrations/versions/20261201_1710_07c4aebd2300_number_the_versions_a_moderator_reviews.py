"""Number the versions of posts and revisions that a moderator reviews

A moderator's decision names the version of the text it was taken on, and holds only while that version is the
current one: an author's edit in between makes a new version, and the decision is refused.

Both columns are added and dropped in place (ALTER TABLE, which SQLite 3.35 and later does too): no table is copied,
so nothing that references post is touched.

Revision ID: 07c4aebd2300
Revises: fda8def03f51
Create Date: 2026-12-01 17:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '07c4aebd2300'
down_revision = 'fda8def03f51'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('post', sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.add_column('post_revision', sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False))


def downgrade():
    op.drop_column('post_revision', 'version')
    op.drop_column('post', 'version')
